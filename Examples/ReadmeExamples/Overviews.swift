import ComputeEngine
import ComputeEngineMPI
import Foundation
import LoadGeneration
import Multiprocessing
import Scheduler

/// Each DocC catalog's overview page: its first example.
func multiprocessingOverviewExample() throws {
  let counter = try SharedValue<Int>(0)
  let worker = Process(startMethod: .fork) {
    try counter.withLock { $0 += 1 }
  }
  try worker.start()
  try worker.join()
  print(try worker.terminationStatus!)  // exited with code 0
}

func computeEngineOverviewExample() throws {
  let pool = try ProcessPool<Int, Int> { $0 * $0 }
  let squares = try pool.map(Array(0..<1000))
  let team = try ProcessTeam()
  let total = try team.run { member in try member.reduce(member.rank + 1, .sum) }  // [3, 3] on two cores
  _ = (squares, total)
}

func clusterOverviewExample() throws {
  let square = PoolKernel<Int, Int>("square") { $0 * $0 }
  // main: bootstrapMultiprocessing(entryPoints: [square])
  let pool = try ClusterPool(kernel: square)
  if let squares = try pool.serve(driver: { try $0.map(Array(0..<1000)) }) {
    print(squares.last!)  // rank 0 only
  }
}

func loadGenerationOverviewExample() throws {
  let generator = try LoadGenerator(cpus: [0, 1], profile: .constant(0.5), duration: .seconds(10))
  try generator.start()
  while !generator.isDone {
    sleep(1)
    print(generator.sample().map(\.operations))  // each worker's work so far
  }
  generator.stop()
}

func schedulerOverviewExample() throws {
  let machine = try Topology.current()
  let placement = try machine.placement(.cores(2, .compact))
  try Topology.bindCallingThread(to: placement.slots[0].cpus)
}
