import ComputeEngine
import Foundation
import Multiprocessing
import TestEntryPoints

#if canImport(Glibc)
  import Glibc
#endif

// The program the tests spawn: a child or fork server for the spawn and forkserver start
// methods (bootstrap), and the driver of scenarios that need a whole parent process:
//   killed-parent METHOD N  start N long sleepers, print their pids, wait to be SIGKILLed
//   daemon-exit METHOD      start a long daemon sleeper and a short non-daemon, print pids, return
//   output METHOD N LINES   N children print LINES lines each around the parent's own lines
//   pool-parent METHOD      start a pool, map once, print the worker pids, wait to be SIGKILLed
//   pool-flat METHOD        1000 small maps on one pool; exit 2 on wrong results, 3 if
//                           descriptors grew, 4 if resident memory grew more than 1 MiB
bootstrapMultiprocessing(entryPoints: TestEntryPoints.all)

let arguments = CommandLine.arguments.dropFirst()
guard let scenario = arguments.first, arguments.count >= 2, let method = StartMethod(rawValue: arguments[2]) else {
  FileHandle.standardError.write(Data("usage: MPTestChild killed-parent|daemon-exit|output METHOD [N [LINES]]\n".utf8))
  exit(64)
}
let count = arguments.count >= 3 ? Int(arguments[3]) ?? 1 : 1

func startAll(_ processes: [Multiprocessing.Process]) throws {
  for process in processes { try process.start() }
  print("pids", processes.map { String($0.pid!) }.joined(separator: " "))
  fflush(nil)
}

switch scenario {
case "killed-parent":
  try startAll(
    (0..<count).map { _ in
      Multiprocessing.Process(startMethod: method, entryPoint: TestEntryPoints.sleep, arguments: 60_000)
    })
  while true { sleep(60) }
case "daemon-exit":
  let daemon = Multiprocessing.Process(
    daemon: true, startMethod: method, entryPoint: TestEntryPoints.sleep, arguments: 60_000)
  let worker = Multiprocessing.Process(startMethod: method, entryPoint: TestEntryPoints.sleep, arguments: 300)
  try startAll([daemon, worker])
case "output":
  let lines = arguments.count >= 4 ? Int(arguments[4]) ?? 1 : 1
  print("parent before")
  let children = (0..<count).map { _ in
    Multiprocessing.Process(startMethod: method, entryPoint: TestEntryPoints.printLines, arguments: lines)
  }
  for child in children { try child.start() }
  print("parent between")
  for child in children { try child.join() }
  print("parent after")
case "pool-parent":
  let pool = try ProcessPool(startMethod: method, kernel: PoolKernels.unit)
  _ = try pool.map(Array(0..<64))
  print("pids", pool.workerPIDs.map(String.init).joined(separator: " "))
  fflush(nil)
  while true { sleep(60) }
case "pool-flat":
  func descriptors() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count }
  func residentPages() -> Int {
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
    return Int(statm.split(separator: " ")[1]) ?? 0
  }
  let pool = try ProcessPool(startMethod: method, kernel: PoolKernels.crash)
  for _ in 0..<100 { _ = try pool.map(Array(0..<10)) }
  let (fds, pages) = (descriptors(), residentPages())
  for round in 0..<1000 {
    let inputs = Array(100 + round..<110 + round)
    guard try pool.map(inputs) == inputs.map({ $0 * 2 }) else { exit(2) }
  }
  if descriptors() != fds { exit(3) }
  if residentPages() > pages + 256 { exit(4) }
  print("pids", pool.workerPIDs.map(String.init).joined(separator: " "))
default:
  FileHandle.standardError.write(Data("unknown scenario \(scenario)\n".utf8))
  exit(64)
}
