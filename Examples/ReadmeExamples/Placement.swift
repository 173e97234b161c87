import Scheduler

/// README, "Placement".
func placementExample() throws {
  let machine = try Topology()
  let placement = try machine.placement(.physicalCores)
  try machine.bind(.thread, to: placement.slots[0])  // and read it back:
  print(try machine.binding(.thread))  // "0"
}
