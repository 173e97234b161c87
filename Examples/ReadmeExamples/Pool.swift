import ComputeEngine
import Kernels
import Logging

/// README, "The process pool".
func poolExample() async throws {
  let size = MonteCarloPi.Size.native
  // The workers see this process's memory as it is now, at init: load data before making the pool.
  let pool = try ProcessPool<Int, UInt64> { unit in MonteCarloPi.unit(UInt64(unit), samples: size.samples) }
  let hits = try await pool.map(Array(0..<size.units))  // ordered; plain `try` outside async code
  print(hits.reduce(0, &+) == size.checksum)  // true
  for try await (unit, count) in pool.mapUnordered(Array(0..<8)) { print(unit, count) }
  let one = try await pool.submit(3)
  pool.close(); try pool.join()

  // One-shot: fresh workers per call; the closure captures anything, inputs stay in the fork's snapshot.
  let table = (0..<1000).map { $0 * 3 }
  let looked = try parallelMap(Array(0..<1000)) { table[$0] + 1 }
  _ = (one, looked)
}

/// README, "The process pool": telemetry.
func telemetryExample() throws {
  var logger = Logger(label: "solver")
  logger.logLevel = .notice
  let pool = try ProcessPool<Int, Int>(telemetry: PoolTelemetry(label: "solver", logger: logger)) { $0 * 2 }
  _ = pool
}

/// README, "The process pool": an initializer per worker.
nonisolated(unsafe) var squares: [Int] = []

func initializerExample() throws {
  let pool = try ProcessPool<Int, Int>(initializer: { squares = (0..<1000).map { $0 * $0 } }) { squares[$0] }
  print(try pool.map([3, 4]))  // [9, 16]
}

/// README, "The process pool": lazy imap.
func imapExample() async throws {
  let squarer = try ProcessPool<Int, Int> { $0 &* $0 }
  var total = 0
  for try await square in squarer.imap(stride(from: 0, to: 10_000_000, by: 1)) { total &+= square }
  _ = total
}
