import Multiprocessing

/// README, "Managers": a dictionary a child changes through its handle.
func managerExample() throws {
  let manager = try Manager()
  let results = try manager.dictionary([Int: Int].self)
  let worker = Process { [handle = results.handle] in
    try ManagedDictionary<Int, Int>(handle).set(42, for: 1)
  }
  try worker.start()
  try worker.join()
  print(try results[1] ?? 0)  // 42
}

/// README, "Managers": a type of the program's own.
final class Tally: ManagedObject {  // registered with Manager.register(Tally.self), or in
  static let typeName = "Tally"  // bootstrapMultiprocessing(entryPoints:managedTypes:)
  private var total = 0
  init() {}
  func handle(_ amount: Int) -> Int {
    total += amount
    return total
  }
}
