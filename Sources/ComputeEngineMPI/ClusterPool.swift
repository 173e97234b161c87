import ComputeEngine
import Foundation
import Multiprocessing
import Scheduler
import Synchronization
import SystemPackage

/// A `ProcessPool` across machines: one MPI rank per node, each running a local pool of
/// pinned worker processes on its node's cores, with rank 0 the driver that hands out chunks
/// of a job and also computes.
///
/// Launch one rank per node with `mpirun --map-by ppr:1:node --bind-to none` (Open MPI's
/// default binding would put a rank's workers all on one core) or Slurm's `srun`. Every rank
/// makes the pool with the same registered `PoolKernel` and calls ``serve(driver:)``: rank 0
/// runs the body, whose ``map(_:chunkSize:journal:)`` calls spread over every rank, and the others
/// serve chunks until the body returns.
///
/// ```swift
/// let pool = try ClusterPool(kernel: square)   // every rank
/// let outputs = try pool.serve { driver in try driver.map(Array(0..<1000)) }
/// if let outputs { print(outputs.count) }       // rank 0 only
/// ```
///
/// Chunks are claimed by the ranks as they finish the ones they hold (self-scheduling, with
/// chunks that shrink toward the end), and results come back in input order, or as they
/// arrive with ``mapUnordered(_:chunkSize:_:)``. A worker that crashes inside a
/// rank costs the task it ran, as in a local pool (its node's pool replaces the worker; MPI
/// never sees it). The local workers start before MPI does, so no MPI process forks.
public final class ClusterPool<Input: Sendable, Output: Sendable>: @unchecked Sendable {
  // @unchecked: MPI is called only from the thread that made the pool (MPI_THREAD_FUNNELED;
  // every call checks it and throws ClusterError.wrongThread otherwise);
  // the job state a map shares with its local thread is under a Mutex.

  /// This process's rank (renumbered when ranks die: see ``recoveries``).
  public private(set) var rank: Int
  /// The number of ranks still in the job.
  public private(set) var rankCount: Int
  /// The workers of each rank's local pool, in rank order.
  public private(set) var workersPerRank: [Int]
  /// Each rank's workers by its `MPI_COMM_WORLD` rank, dead ones included.
  private let workersPerWorldRank: [Int]
  /// The rank losses this pool survived, oldest first: with an MPI library that has ULFM
  /// (Open MPI 5 under `mpirun --with-ft ulfm`), a serving rank's death costs the chunks it
  /// held, which the survivors run again, and the job goes on without it. Without ULFM a
  /// rank's death ends the job.
  public private(set) var recoveries: [ClusterRecovery] = []
  /// Whether this rank is the driver (rank 0), the one that runs ``serve(driver:)``'s body.
  public var isDriver: Bool { rank == 0 }

  /// This rank's local pool.
  public let local: ProcessPool<Input, Output>
  let world: MPIWorld
  let codec: ClusterCodec<Input, Output>
  private let finished = Atomic<Bool>(false)
  /// Whether the driver told the other ranks to stop (``shutdown()``, or the end of
  /// ``serve(driver:)``).
  private var ranksStopped = false
  /// The thread that made the pool: the only one that may call MPI.
  private let owner = pthread_self()
  var lastJob = 0
  /// Sends of a map that ended early (it threw), kept until MPI is done with their bytes.
  var abandonedSends: [PendingSend] = []

  /// Starts this rank's local pool of `kernel` (workers forked before MPI starts), then MPI.
  ///
  /// The local pool takes `placement`'s slots on this node; ranks that share a node (as the
  /// launcher's environment says) take turns over them, so that their workers do not all
  /// bind to the same cores.
  ///
  /// - Throws: the local pool's errors (a bad placement, an unregistered kernel), or a
  ///   ``ClusterError`` when MPI cannot start.
  public convenience init(
    kernel: PoolKernel<Input, Output>, placement: PlacementPolicy = .physicalCores, startMethod: StartMethod = .fork
  ) throws where Input: BitwiseCopyable, Output: BitwiseCopyable {
    let share = try NodeShare().placement(placement)
    try self.init(local: ProcessPool(placement: share, startMethod: startMethod, kernel: kernel), codec: .raw())
  }

  /// Starts this rank's local pool of `kernel` over `Codable` values, then MPI.
  @_disfavoredOverload
  public convenience init(
    kernel: PoolKernel<Input, Output>, placement: PlacementPolicy = .physicalCores, startMethod: StartMethod = .fork
  ) throws where Input: Codable, Output: Codable {
    let share = try NodeShare().placement(placement)
    try self.init(local: ProcessPool(placement: share, startMethod: startMethod, kernel: kernel), codec: .binary())
  }

  private init(local: ProcessPool<Input, Output>, codec: ClusterCodec<Input, Output>) throws {
    self.local = local
    self.codec = codec
    do {
      world = try MPIWorld()
      (rank, rankCount) = (world.rank, world.size)
      workersPerRank = try world.allGather(local.workerCount)
      workersPerWorldRank = workersPerRank
    } catch {
      local.terminate()
      throw error
    }
  }

  deinit {
    finish()
  }

  /// Runs `body` on the driver while every other rank serves its chunks; then every rank
  /// finalizes MPI and closes its local pool.
  ///
  /// - Returns: `body`'s value on the driver, nil on the other ranks.
  /// - Throws: what `body` throws, ``ClusterError/finished`` on a second call, or a
  ///   ``ClusterError`` from MPI.
  public func serve<Result>(driver body: (ClusterPool) throws -> Result) throws -> Result? {
    try checkCaller(driverOnly: false)
    defer { finish() }
    guard isDriver else {
      try serveChunks()
      return nil
    }
    let result: Result
    do {
      result = try body(self)
    } catch {
      if !ranksStopped { try? stopRanks() }
      throw error
    }
    if !ranksStopped { try stopRanks() }
    return result
  }

  /// Ends the service early (driver only, inside ``serve(driver:)``): every other rank stops
  /// serving and leaves its `serve` call, and the driver's later maps throw
  /// ``ClusterError/shutDown``; ``serve(driver:)`` returns when its body does. Each map ends
  /// before it returns, so no work is in flight. A second call does nothing.
  ///
  /// - Throws: the first failure to tell a rank, or ``ClusterError`` for a caller that may not
  ///   call MPI.
  public func shutdown() throws {
    try checkCaller(evenShutDown: true)
    guard !ranksStopped else { return }
    ranksStopped = true
    try stopRanks()
  }

  /// Applies the kernel to every input across the ranks and returns the outputs in input
  /// order (driver only, inside ``serve(driver:)``).
  ///
  /// - Parameters:
  ///   - inputs: the inputs, in the order of the outputs.
  ///   - chunkSize: inputs sent to a rank at once; by default about inputs ÷
  ///     (every rank's workers × 4), and at least the rank's worker count.
  ///   - journal: a file that records each finished chunk, so that a run ended by a rank's
  ///     death resumes there: run again with the same inputs and journal (see
  ///     ``mapResults(_:chunkSize:journal:)``).
  /// - Throws: the error of the first failed input, or a ``ClusterError``.
  public func map(_ inputs: [Input], chunkSize: Int? = nil, journal: FilePath? = nil) throws -> [Output] {
    try mapResults(inputs, chunkSize: chunkSize, journal: journal).map { try $0.get() }
  }

  /// Each input's result, in input order (driver only, inside ``serve(driver:)``).
  ///
  /// A rank that dies ends the whole job (Open MPI's launcher stops every rank; recovering
  /// needs ULFM, in Open MPI 5). While a map runs, the driver answers the launcher's
  /// `SIGTERM` by printing to standard error which chunks each rank still held unanswered —
  /// the dead rank's among them — and how many tasks are done, then ends as `SIGTERM` would.
  /// With a `journal`, the next run with the same inputs loads the finished chunks
  /// (``resumedTasks`` says how many tasks) and hands out only the rest; a journal written
  /// for other inputs is refused with ``ClusterError/invalidArgument(_:)``.
  public func mapResults(
    _ inputs: [Input], chunkSize: Int? = nil, journal path: FilePath? = nil
  ) throws -> [Swift.Result<Output, PoolError>] {
    try run(inputs, chunkSize: chunkSize, journal: path) { _, _ in }?.resultsInOrder() ?? []
  }

  /// Applies the kernel to every input across the ranks, handing each output to `body` with
  /// its input's index as its chunk arrives, in no particular order (driver only, inside
  /// ``serve(driver:)``). `body` runs on the calling thread — MPI's, which is why this takes
  /// a closure where the local pool's `mapUnordered` returns an `AsyncSequence`.
  ///
  /// - Throws: the first failure to arrive (once every task ran), what `body` throws (the
  ///   chunks still out are then dropped), or a ``ClusterError``.
  public func mapUnordered(_ inputs: [Input], chunkSize: Int? = nil, _ body: (Int, Output) throws -> Void) throws {
    var firstFailure: PoolError?
    _ = try run(inputs, chunkSize: chunkSize, journal: nil) { first, results in
      for (offset, result) in results.enumerated() {
        switch result {
        case .success(let output): try body(first + offset, output)
        case .failure(let error): firstFailure = firstFailure ?? error
        }
      }
    }
    if let firstFailure { throw firstFailure }
  }

  /// Runs the kernel on one input on whichever rank takes it (driver only, inside
  /// ``serve(driver:)``): a map of one, synchronous for the same reason as
  /// ``mapUnordered(_:chunkSize:_:)``.
  public func submit(_ input: Input) throws -> Output {
    try map([input])[0]
  }

  /// Times `count` round trips of an 8-byte message between the driver and `rank`, with
  /// both sides polling without pause: what MPI itself costs, beside what a chunk costs
  /// (driver only, inside ``serve(driver:)``).
  public func roundTrips(to rank: Int = 1, count: Int) throws -> [Duration] {
    try checkCaller()
    guard (1..<rankCount).contains(rank) else {
      throw ClusterError.invalidArgument("rank \(rank) is not one of the other ranks (1..<\(rankCount))")
    }
    let payload = [UInt8](repeating: 0, count: 8)
    return try (0..<count).map { _ in
      let started = ContinuousClock.now
      try world.send(payload, to: rank, tag: ClusterMessage.echo)
      _ = try world.receive(try world.waitForMessage(from: rank, spin: .seconds(1)))
      return ContinuousClock.now - started
    }
  }

  /// Throws unless the caller may call MPI now: the pool's own thread, before the pool
  /// finished, and (for the driver's calls) on rank 0, before it shut the pool down (unless
  /// `evenShutDown`).
  func checkCaller(driverOnly: Bool = true, evenShutDown: Bool = false) throws(ClusterError) {
    guard pthread_equal(pthread_self(), owner) != 0 else { throw .wrongThread }
    guard !finished.load(ordering: .acquiring) else { throw .finished }
    guard !driverOnly || isDriver else { throw .notDriver(rank: rank) }
    guard !driverOnly || evenShutDown || !ranksStopped else { throw .shutDown }
  }

  /// Tasks of the last ``mapResults(_:chunkSize:journal:)`` loaded from its journal instead of
  /// being run.
  public internal(set) var resumedTasks = 0

  /// Tells every other rank to stop serving, each even when telling another failed (one that
  /// died since the last map has nothing to be told, when the pool survives deaths): a rank
  /// left serving would hold up the others' finalize.
  ///
  /// - Throws: the first failure to tell a rank.
  private func stopRanks() throws {
    var firstFailure: ClusterError?
    for destination in 1..<max(rankCount, 1) {
      do {
        try world.send([], to: destination, tag: ClusterMessage.stop)
      } catch {
        guard error.isRankLoss, MPIWorld.isFaultTolerant else {
          firstFailure = firstFailure ?? error
          continue
        }
      }
    }
    if let firstFailure { throw firstFailure }
  }

  /// Goes on without the ranks that died, with every survivor (see `MPIWorld.shrink()`): the
  /// ranks are renumbered, and the driver takes back every chunk a serving rank held (the dead
  /// ones' never come back; the survivors' answers were dropped with the communicator) to
  /// hand them out again.
  ///
  /// - Throws: ``ClusterError/driverLost`` on a serving rank when the driver is among the dead
  ///   (it ends the job), or what the shrink throws.
  func recover(_ job: ClusterJob<Output>?) throws(ClusterError) {
    let lost = try world.shrink()
    guard world.worldRanks.first == 0 else { throw .driverLost }
    (rank, rankCount) = (world.rank, world.size)
    workersPerRank = world.worldRanks.map { workersPerWorldRank[$0] }
    guard isDriver else { return }
    let rerun = job?.returnChunks(heldBy: { $0 != 0 }, workersPerRank: workersPerRank) ?? []
    recoveries.append(
      ClusterRecovery(lostRanks: lost, rerunTasks: rerun, survivingRanks: world.worldRanks, job: job?.id ?? 0))
  }

  /// Finalizes MPI and closes the local pool (again: nothing).
  private func finish() {
    guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return }
    world.finalize()
    local.close()
    try? local.join()
  }
}
