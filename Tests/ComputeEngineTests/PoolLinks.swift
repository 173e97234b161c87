import Multiprocessing
import Scheduler

@testable import ComputeEngine

/// The links a pool's behaviour is tested over: the shared-memory rings (with the claim board
/// for `BitwiseCopyable` values) every pool uses, and the pipes of the second link, which
/// carry the same messages through the same seam.
let everyLink: [PoolLink] = [.sharedMemory, .pipes]

/// A fork pool of `kernel` over `link`: over shared memory, the pool `ProcessPool(kernel:)`
/// makes (slot rings and the claim board); over pipes, the second link.
func linkedPool<Input: BitwiseCopyable & Codable & Sendable, Output: BitwiseCopyable & Codable & Sendable>(
  _ link: PoolLink, placement: PlacementPolicy = .physicalCores, taskTimeout: Duration? = nil,
  maxTasksPerWorker: Int? = nil, telemetry: PoolTelemetry = PoolTelemetry(),
  initializer: (@Sendable () throws -> Void)? = nil, kernel: @escaping @Sendable (Input) throws -> Output
) throws -> ProcessPool<Input, Output> {
  switch link {
  case .sharedMemory:
    return try ProcessPool(
      placement: placement, taskTimeout: taskTimeout, maxTasksPerWorker: maxTasksPerWorker, telemetry: telemetry,
      initializer: initializer, kernel: kernel)
  case .pipes:
    return try ProcessPool(
      placement: placement, taskTimeout: taskTimeout, maxTasksPerWorker: maxTasksPerWorker, telemetry: telemetry,
      kernel: PoolKernel("", link: .pipes, initializer: initializer, body: kernel))
  }
}

/// The same for `Codable` values: over shared memory, byte rings.
@_disfavoredOverload
func linkedPool<Input: Codable & Sendable, Output: Codable & Sendable>(
  _ link: PoolLink, placement: PlacementPolicy = .physicalCores, taskTimeout: Duration? = nil,
  maxTasksPerWorker: Int? = nil, telemetry: PoolTelemetry = PoolTelemetry(),
  initializer: (@Sendable () throws -> Void)? = nil, kernel: @escaping @Sendable (Input) throws -> Output
) throws -> ProcessPool<Input, Output> {
  try ProcessPool(
    placement: placement, taskTimeout: taskTimeout, maxTasksPerWorker: maxTasksPerWorker, telemetry: telemetry,
    kernel: PoolKernel("", link: link, initializer: initializer, body: kernel))
}
