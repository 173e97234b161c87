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
default:
  FileHandle.standardError.write(Data("unknown scenario \(scenario)\n".utf8))
  exit(64)
}
