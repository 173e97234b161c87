import Foundation
import Multiprocessing
import Scheduler
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A named kernel a ``ProcessPool`` can run in workers of every start method: register it
/// with `bootstrapMultiprocessing(entryPoints:)` first thing in `main`, like an entry point.
///
/// `BitwiseCopyable` inputs and outputs travel through typed `SlotRing`s; `Codable` ones
/// (when not `BitwiseCopyable`) through `ByteRing`s in `BinaryEncoder`'s form.
///
/// ```swift
/// let square = PoolKernel<Int, Int>("square") { $0 * $0 }
/// // main: bootstrapMultiprocessing(entryPoints: [square])
/// let pool = try ProcessPool(startMethod: .spawn, kernel: square)
/// ```
///
/// An `initializer` runs once in each worker before its first task, and in every
/// replacement (Python's `Pool(initializer=)`): per-worker state such as an opened file or a
/// table built once. One that throws in a new pool's worker fails the pool's start with
/// ``PoolError/initializerFailed(_:)``.
public struct PoolKernel<Input: Sendable, Output: Sendable>: AnyEntryPoint {
  /// The name workers look the kernel up by.
  public let name: String
  /// The function applied to each input.
  public let body: @Sendable (Input) throws -> Output
  /// Run once in each worker before its first task.
  public let initializer: (@Sendable () throws -> Void)?
  /// Claims and runs chunks of the board's job in a worker, with ``body``
  /// (``BoardRole/serve(status:kernel:fail:)``).
  typealias ClaimChunks = @Sendable (BoardRole, WorkerStatus, (TaskID, String) throws -> Void) throws -> Bool

  /// Makes the pool's side of its links to its workers, which makes each worker's channels.
  let makeLinks: @Sendable (PoolLinkSetup) throws -> any PoolLinks<Input, Output>
  /// Decodes a worker's ``WorkerTransport/handleData``, and returns what reopens its channels
  /// in the worker.
  let channelsOpener: @Sendable (Data) throws -> () throws -> any WorkerLink<Input, Output>
  /// Makes the pool's claim board for its number of worker slots, for `BitwiseCopyable`
  /// values only.
  let makeBoard: (@Sendable (_ slots: Int) throws -> ClaimBoard)?
  /// Copies a slice of a job's inputs onto the board, in one go.
  let writeBoardInputs: (@Sendable ([Input], Range<Int>, ClaimBoard) -> Void)?
  /// The worker's part on the board, for `BitwiseCopyable` values only.
  let claimChunks: ClaimChunks?

  /// A kernel over `BitwiseCopyable` values: no serialisation on the way.
  public init(
    _ name: String, initializer: (@Sendable () throws -> Void)? = nil,
    body: @escaping @Sendable (Input) throws -> Output
  ) where Input: BitwiseCopyable, Output: BitwiseCopyable {
    self.init(name, initializer: initializer, onBoardStep: nil, body: body)
  }

  /// A kernel over `BitwiseCopyable` values whose workers tell `onBoardStep` each step of the
  /// claim-board protocol they reach: the tests' way to kill a worker at a given step.
  init(
    _ name: String, initializer: (@Sendable () throws -> Void)? = nil,
    onBoardStep: (@Sendable (BoardStep) -> Void)?, body: @escaping @Sendable (Input) throws -> Output
  ) where Input: BitwiseCopyable, Output: BitwiseCopyable {
    self.name = name
    self.body = body
    self.initializer = initializer
    makeLinks = { setup in
      try SharedMemoryLinks(setup) { try SlotChannels<Input, Output>(capacity: PoolLimits.ringSlots, shared: $0) }
    }
    channelsOpener = { try SlotChannels<Input, Output>.opener($0) }
    let (inputStride, outputStride) = (MemoryLayout<Input>.stride, MemoryLayout<Output>.stride)
    makeBoard = { slots in
      try ClaimBoard(
        capacity: PoolLimits.boardTasks(bytesPerTask: inputStride + outputStride), inputStride: inputStride,
        outputStride: outputStride, slots: slots)
    }
    writeBoardInputs = { inputs, range, board in
      inputs.withUnsafeBytes {
        board.input(0).copyMemory(
          from: $0.baseAddress! + range.lowerBound * inputStride, byteCount: range.count * inputStride)
      }
    }
    if let onBoardStep {
      claimChunks = { role, status, fail in
        try role.serve(status: status, kernel: body, fail: fail, reached: onBoardStep)
      }
    } else {
      claimChunks = { role, status, fail in try role.serve(status: status, kernel: body, fail: fail) }
    }
  }

  /// A kernel over `Codable` values, sent in `BinaryEncoder`'s form.
  @_disfavoredOverload
  public init(
    _ name: String, initializer: (@Sendable () throws -> Void)? = nil,
    body: @escaping @Sendable (Input) throws -> Output
  ) where Input: Codable, Output: Codable {
    self.init(name, link: .sharedMemory, initializer: initializer, body: body)
  }

  /// A kernel over `Codable` values whose messages go through `link`: the pool's tests run
  /// its behaviour over ``PoolLink/pipes`` as well as over the rings. Package-wide, so that
  /// the tests' helper program, built in every configuration, can use it without testable
  /// imports.
  package init(
    _ name: String, link: PoolLink, initializer: (@Sendable () throws -> Void)? = nil,
    body: @escaping @Sendable (Input) throws -> Output
  ) where Input: Codable, Output: Codable {
    self.name = name
    self.body = body
    self.initializer = initializer
    switch link {
    case .sharedMemory:
      makeLinks = { setup in
        try SharedMemoryLinks(setup) { try ByteChannels<Input, Output>(capacity: PoolLimits.ringBytes, shared: $0) }
      }
      channelsOpener = { try ByteChannels<Input, Output>.opener($0) }
    case .pipes:
      makeLinks = { _ in PipeLinks<Input, Output>() }
      channelsOpener = { try PipeChannels<Input, Output>.opener($0) }
    }
    makeBoard = nil
    writeBoardInputs = nil
    claimChunks = nil
  }

  /// Runs ``warmUp()`` once per kernel type in this process, before the first fork template
  /// of a pool of this type is forked: every template, and every worker forked from one,
  /// inherits what it built. (Run in each template instead, it cost every pool's start the
  /// same work again.)
  func warmUpOnce() {
    let type = ObjectIdentifier(Self.self)
    warmedKernelTypes.withLock { warmed in
      guard !warmed.contains(type) else { return }
      warmed.append(type)
      warmUp()
    }
  }

  /// Runs the generic code a worker runs before its first task: decoding its plan, opening
  /// its channels (a small pair made for the purpose, with a doorbell nobody rings), its
  /// status, its board and its CPU set, so that the runtime builds their metadata here, once,
  /// rather than in each worker.
  func warmUp() {
    guard let links = try? makeLinks(PoolLinkSetup(slots: 1, doorbellFD: -1, forked: true)),
      let channels = try? links.makeChannels(slot: 0)
    else { return }
    var sample = WorkerPlan(
      channels: channels.handleData, slot: 0, cpus: CPUSet([0]), chunkSize: 1, maxTasks: nil, spinNanoseconds: 0,
      timed: false)
    let board = try? makeBoard?(1)
    sample.board = board?.memory.handle
    guard let encoded = try? BinaryEncoder().encode(sample),
      let plan = try? BinaryDecoder().decode(WorkerPlan.self, from: encoded)
    else { return }
    _ = plan.cpus?.indices.map(Int32.init)
    let link = try? channelsOpener(plan.channels)()
    _ = link?.status(timed: plan.timed).current
    if let handle = plan.board { _ = try? ClaimBoard(handle) }
    // A worker's first wait for tasks, on channels closed first, so that it returns at once:
    // it builds types by name (a ring's deadlines) and generic metadata (a ring's buffers).
    channels.close()
    _ = try? link?.receive(upTo: 1, spin: .zero)
    // And the worker loop's own type, which only a worker makes (its metadata, built here).
    withExtendedLifetime(WorkerRuntime<Input, Output>.self) {}
  }

  /// Runs a worker: what a spawned or fork-server worker process does.
  public func run(encodedArguments: Data) throws {
    try prepared(encodedArguments)()
  }

  /// Decodes the worker's plan and its channels' handles where the worker is forked from
  /// (its pool's fork template, or the fork server), and returns the worker's run: a forked
  /// worker then runs none of the decoder's code: about 14 of its 120 page faults
  /// (`mpbench pool`), which the template pays once. The decoding has no effect but its values.
  public func prepareRun(encodedArguments: Data) -> () throws -> Void {
    do { return try prepared(encodedArguments) } catch { return { throw error } }
  }

  /// Decodes a worker's plan and its channels' handles; the returned closure opens the
  /// channels and runs the worker.
  private func prepared(_ encodedArguments: Data) throws -> () throws -> Void {
    let plan = try BinaryDecoder().decode(WorkerPlan.self, from: encodedArguments)
    let openChannels = try channelsOpener(plan.channels)
    let label = plan.crashLabel
    return {
      try WorkerLoop.run(
        plan: plan, label: label, link: try openChannels(), initializer: initializer, claimChunks: claimChunks,
        kernel: body)
    }
  }
}

/// The kernel types whose worker code this process has warmed up (``PoolKernel/warmUpOnce()``).
/// An array, not a `Set`: a set's storage type is built by name at its first insert, and
/// checking `ObjectIdentifier: Hashable` there scanned every conformance record of the program
/// in a process's first pool. A process has a few kernel types.
private let warmedKernelTypes = Mutex<[ObjectIdentifier]>([])

/// Sizes of the pool's channels and chunks.
enum PoolLimits {
  /// Slots in each typed ring: twice the largest chunk, so that the dispatcher never waits.
  static let ringSlots = 4096
  /// Bytes in each byte ring.
  static let ringBytes = 4 << 20
  /// Bytes each pipe of the pipe link is asked to hold (the system's limit may give less).
  static let pipeBytes = 1 << 20
  /// The largest chunk the dispatcher sends at once.
  static let maxChunk = 1024
  /// Chunks a worker may hold at once (one running, one waiting) before it has timed its
  /// tasks.
  static let chunksInFlight = 2
  /// The most chunks a worker may hold at once: its results are matched to them one by one.
  static let maxChunksInFlight = 32
  /// Tasks longer than this count as long: their worker holds one chunk at a time (a round
  /// trip to the dispatcher, tens of microseconds, is then under 1 % of a task).
  static let longTaskNanoseconds = 5_000_000
  /// Tasks shorter than this count as short: their worker takes every chunk it has room for
  /// in one go.
  static let shortTaskNanoseconds = 50_000
  /// The work, in nanoseconds of the worker's measured time per task, a worker may be given
  /// ahead: enough to cover many round trips to the dispatcher, little enough that the
  /// last tasks of a job are not stuck behind a busy worker.
  static let queuedWorkNanoseconds = 1_000_000
  /// How long a new worker may take to reach its loop before it is killed and replaced: a
  /// fork takes well under a millisecond, a spawned run of a program a few.
  static let workerStartBound = Duration.seconds(5)
  /// How long the caller of a blocking `map` waits for its job on the claim board spinning
  /// (politely, `Spin.untilYielding`) before it sleeps, when the spin window is
  /// shorter: a job of a few milliseconds is then answered without a wake-up. (On two vCPUs
  /// with 16-unit jobs of 1.3 ms: 0.92-0.95 of OpenMP's speedup with the 20 µs window,
  /// 0.95-0.99 with this.)
  static let boardCallerSpin = Duration.milliseconds(5)

  /// The most tasks the claim board holds at once: 65,536, fewer for large values (the
  /// board's inputs and outputs stay under 8 MiB). Larger jobs go through it in rounds.
  static func boardTasks(bytesPerTask: Int) -> Int {
    min(65_536, max(64, (8 << 20) / max(1, bytesPerTask)))
  }
}

/// What carries a pool's tasks and results between its thread and its workers.
package enum PoolLink {
  /// Rings in shared memory (with the claim board for `BitwiseCopyable` values): what pools
  /// use.
  case sharedMemory
  /// Operating-system pipes carrying the same messages as the byte rings: the pool's second
  /// link, which proves the seam (``WorkerTransport``, ``WorkerLink``) holds.
  case pipes
}
