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

  /// This process's rank.
  public let rank: Int
  /// The number of ranks.
  public let rankCount: Int
  /// The workers of each rank's local pool, in rank order.
  public let workersPerRank: [Int]
  /// Whether this rank is the driver (rank 0), the one that runs ``serve(driver:)``'s body.
  public var isDriver: Bool { rank == 0 }

  /// This rank's local pool.
  public let local: ProcessPool<Input, Output>
  private let world: MPIWorld
  private let codec: ClusterCodec<Input, Output>
  private let finished = Atomic<Bool>(false)
  /// The thread that made the pool: the only one that may call MPI.
  private let owner = pthread_self()
  private var lastJob = 0
  /// Sends of a map that ended early (it threw), kept until MPI is done with their bytes.
  private var abandonedSends: [PendingSend] = []

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
      try? stopRanks()
      throw error
    }
    try stopRanks()
    return result
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

  /// A map: hands out the chunks, records their results, and hands each chunk's results to
  /// `onChunk` on this thread as they arrive (those loaded from the journal first). Nil for
  /// no inputs.
  private func run(
    _ inputs: [Input], chunkSize: Int?, journal path: FilePath?,
    onChunk: (Int, [Swift.Result<Output, PoolError>]) throws -> Void
  ) throws -> ClusterJob<Output>? {
    try checkCaller()
    if let chunkSize, chunkSize < 1 {
      throw ClusterError.invalidArgument("chunkSize must be at least 1, not \(chunkSize)")
    }
    resumedTasks = 0
    guard !inputs.isEmpty else { return nil }
    lastJob += 1
    let job = ClusterJob<Output>(
      id: lastJob, count: inputs.count, chunkSize: chunkSize, workersPerRank: workersPerRank)
    let journal = try path.map { path in
      try ClusterJournal(
        path: path.string, fingerprint: ClusterJournal.fingerprint(try codec.encodeInputs(inputs[...])),
        count: inputs.count)
    }
    for record in journal?.records ?? [] {
      let (first, results) = try decodeResults(record)
      job.record(first, results)
      try onChunk(first, results)
    }
    resumedTasks = job.doneCount
    let report = EndReport.install { [rankCount] in
      Self.endReport(job: job, ranks: rankCount, journal: path)
    }
    defer { report.remove() }
    // The driver's own share runs on a thread of its own (MPI stays on this one).
    let localDone = DispatchSemaphore(value: 0)
    let local = self.local
    let localFailure = Mutex<(any Error)?>(nil)
    /// Chunks the local thread finished, for `onChunk` on this thread.
    let localArrivals = Mutex<[(Int, [Swift.Result<Output, PoolError>])]>([])
    // Counted apart, so that the polling loop looks without taking the lock.
    let localArrivalCount = Atomic<Int>(0)
    func handOverLocalArrivals() throws {
      guard localArrivalCount.load(ordering: .acquiring) > 0 else { return }
      let arrivals = localArrivals.withLock { arrivals in
        localArrivalCount.store(0, ordering: .relaxed)
        defer { arrivals = [] }
        return arrivals
      }
      for (first, results) in arrivals { try onChunk(first, results) }
    }
    // Small chunks are taken several at a time, as a rank runs those it finds waiting: one
    // trip through the local pool for all of them.
    // How many: enough for about a millisecond of work per trip (a trip costs ~10 µs), from
    // the time the last trip's tasks took; one at first, and one for long tasks.
    let largestLocalBatch = chunkSize.map { max(1, min(256, 64 * local.workerCount / $0)) } ?? 1
    Thread { [inputs, self] in
      var localBatch = 1
      while let range = job.take(for: 0) {
        var ranges = [range]
        while ranges.count < localBatch, let next = job.take(for: 0) { ranges.append(next) }
        let count = ranges.reduce(0) { $0 + $1.count }
        let started = ContinuousClock.now
        let results =
          (try? local.mapResults(ranges.flatMap { inputs[$0] })) ?? Array(repeating: .failure(.closed), count: count)
        let perChunk = max((ContinuousClock.now - started) / ranges.count, .nanoseconds(1))
        localBatch = max(1, min(largestLocalBatch, Int(Duration.milliseconds(1) / perChunk)))
        var position = 0
        for range in ranges {
          let chunkResults = Array(results[position..<position + range.count])
          position += range.count
          do {
            try journal?.append(resultsMessage(job: job.id, first: range.lowerBound, chunkResults))
          } catch {
            localFailure.withLock { $0 = $0 ?? error }
          }
          // Queued before it is recorded: once the job is complete, every arrival is queued.
          localArrivals.withLock {
            $0.append((range.lowerBound, chunkResults))
            localArrivalCount.add(1, ordering: .releasing)
          }
          job.record(range.lowerBound, chunkResults)
        }
      }
      localDone.signal()
    }.start()
    defer { localDone.wait() }
    abandonedSends = try abandonedSends.filter { try !world.isComplete($0) }
    var sends: [PendingSend] = []
    // Per rank: the chunk messages it holds, oldest first (it answers them in order), how
    // many chunks they carry, and how long its last chunks took each.
    var held = [[(sentAt: ContinuousClock.Instant, chunks: Int)]](repeating: [], count: rankCount)
    var heldChunks = [Int](repeating: 0, count: rankCount)
    var perChunk = [Duration?](repeating: nil, count: rankCount)
    /// How many chunks rank `destination` should hold: one when its chunks take long (a
    /// second would only wait there, and at the end of the job keep it busy while others
    /// idle); two otherwise, so that it never waits for the next; up to 64 per worker for
    /// small chunks, which go in one message and run through its local pool together.
    func chunksToHold(_ destination: Int) -> Int {
      if let last = perChunk[destination], last > .milliseconds(2) { return 1 }
      guard let chunkSize else { return 2 }
      return max(2, min(256, 64 * workersPerRank[destination] / chunkSize))
    }
    /// Tops rank `destination` up to the chunks it should hold: small chunks in one message,
    /// others one per message (the rank then runs one while the next waits).
    func refill(_ destination: Int) throws {
      let hold = chunksToHold(destination)
      while heldChunks[destination] < hold, !job.isExhausted {
        var messages: [[UInt8]] = []
        while heldChunks[destination] + messages.count < hold, messages.count < (hold > 2 ? hold : 1),
          let range = job.take(for: destination)
        {
          messages.append(
            ClusterMessage.bytes(
              words: [job.id, range.lowerBound, range.count], payloads: [try codec.encodeInputs(inputs[range])]))
        }
        guard !messages.isEmpty else { return }
        sends.append(try world.startSend(ClusterMessage.bundle(messages), to: destination, tag: ClusterMessage.chunk))
        held[destination].append((.now, messages.count))
        heldChunks[destination] += messages.count
      }
    }
    do {
      for destination in 1..<max(rankCount, 1) { try refill(destination) }
      var pause: UInt32 = 0
      var idlePolls = 0
      var lastMessage = ContinuousClock.now
      while !job.isComplete || !sends.isEmpty {
        try handOverLocalArrivals()
        // The oldest first, and only until one is still under way: testing every send on
        // every pass cost more than the tasks with hundreds held.
        while let oldest = sends.first, try world.isComplete(oldest) { sends.removeFirst() }
        guard let message = try world.poll() else {
          // Polls without pause for 100 µs after a message (the next often follows: a
          // sleep costs at least 50 µs of timer slack), then sleeps longer and longer. The
          // clock is read every 32 empty polls: reading it on each cost more than the poll.
          idlePolls &+= 1
          if idlePolls & 31 == 0, ContinuousClock.now - lastMessage > .microseconds(100) {
            usleep(pause)
            pause = min(max(pause * 2, 1), 1000)
          }
          continue
        }
        (pause, lastMessage) = (0, .now)
        let bytes = try world.receive(message)
        guard message.tag == ClusterMessage.results else {
          throw ClusterError.protocolViolation("tag \(message.tag) from rank \(message.source) during a map")
        }
        let chunkResults = try ClusterMessage.unbundle(bytes)
        // Results of an earlier map that ended early (it threw) are dropped.
        guard let firstResults = chunkResults.first, try ClusterMessage.split(firstResults, words: 1).words[0] == job.id
        else { continue }
        for bytes in chunkResults {
          let (first, results) = try decodeResults(bytes, job: job.id)
          try journal?.append(bytes)
          job.record(first, results)
          try onChunk(first, results)
        }
        let source = message.source
        if !held[source].isEmpty {
          let answered = held[source].removeFirst()
          heldChunks[source] -= answered.chunks
          perChunk[source] = (.now - answered.sentAt) / max(answered.chunks, 1)
        }
        try refill(source)
      }
      try handOverLocalArrivals()
      if let error = localFailure.withLock({ $0 }) { throw error }
    } catch {
      job.abandon()
      abandonedSends += sends
      throw error
    }
    return job
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
  /// finished, and (for the driver's calls) on rank 0.
  private func checkCaller(driverOnly: Bool = true) throws(ClusterError) {
    guard pthread_equal(pthread_self(), owner) != 0 else { throw .wrongThread }
    guard !finished.load(ordering: .acquiring) else { throw .finished }
    guard !driverOnly || isDriver else { throw .notDriver(rank: rank) }
  }

  /// Tasks of the last ``mapResults(_:chunkSize:journal:)`` loaded from its journal instead of
  /// being run.
  public private(set) var resumedTasks = 0

  /// What the driver prints when the launcher ends the job during a map.
  private static func endReport(job: ClusterJob<Output>, ranks: Int, journal: FilePath?) -> String {
    let held = job.unanswered.sorted { $0.key < $1.key }.map { rank, ranges in
      "rank \(rank): tasks " + ranges.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
    }
    var report = "ClusterPool: the job was ended during a map (a rank died, or the launcher stopped it); "
    report += "\(job.doneCount) of \(job.count) tasks done. Unanswered chunks: "
    report += held.isEmpty ? "none" : held.joined(separator: "; ")
    report += journal.map { ". The journal \($0) holds the finished chunks: run again with it to resume." } ?? "."
    return report + "\n"
  }

  /// A results message's first task and results; its job must be `jobID` when given (a
  /// journal's records come from an earlier run).
  private func decodeResults(
    _ bytes: [UInt8], job jobID: Int? = nil
  ) throws -> (first: Int, results: [Swift.Result<Output, PoolError>]) {
    let (words, rest) = try ClusterMessage.split(bytes, words: 4)
    let (job, first, count, outputBytes) = (words[0], words[1], words[2], words[3])
    guard jobID == nil || job == jobID, outputBytes >= 0, outputBytes <= rest.count else {
      throw ClusterError.protocolViolation("results of job \(job) during job \(jobID ?? job)")
    }
    // No bytes after the outputs: no failure (the common case costs no decoder).
    let failureBytes = rest[(rest.startIndex + outputBytes)...]
    let failures =
      failureBytes.isEmpty ? [] : try BinaryDecoder().decode([RemoteFailure].self, from: Data(failureBytes))
    let outputs = try codec.decodeOutputs(
      rest[rest.startIndex..<rest.startIndex + outputBytes], count - failures.count)
    var results: [Swift.Result<Output, PoolError>] = []
    results.reserveCapacity(count)
    var nextOutput = 0
    var nextFailure = 0
    for index in 0..<count {
      if nextFailure < failures.count, failures[nextFailure].index == index {
        results.append(.failure(failures[nextFailure].error))
        nextFailure += 1
      } else {
        results.append(.success(outputs[nextOutput]))
        nextOutput += 1
      }
    }
    return (first, results)
  }

  /// A rank's loop: runs each chunk the driver sends on the local pool and sends back its
  /// results, until the driver says stop.
  private func serveChunks() throws {
    while true {
      // Spins a moment first: the driver's next message often follows at once.
      let message = try world.waitForMessage(from: 0, spin: .milliseconds(1))
      let bytes = try world.receive(message)
      switch message.tag {
      case ClusterMessage.stop:
        return
      case ClusterMessage.echo:
        try world.send(bytes, to: 0, tag: ClusterMessage.echo)
      case ClusterMessage.chunk:
        // Chunk messages already here run together: one trip through the local pool for all.
        var messages = [try ClusterMessage.unbundle(bytes).map(decodeChunk)]
        while messages.reduce(0, { $0 + $1.count }) < 256, let next = try world.poll(from: 0),
          next.tag == ClusterMessage.chunk
        {
          messages.append(try ClusterMessage.unbundle(try world.receive(next)).map(decodeChunk))
        }
        let runnable = messages.joined().filter { $0.inputs != nil }
        var results: [Swift.Result<Output, PoolError>]
        do {
          results = try local.mapResults(runnable.flatMap { $0.inputs! })
        } catch let error as PoolError {
          results = Array(repeating: .failure(error), count: runnable.reduce(0) { $0 + $1.count })
        }
        var position = 0
        for chunks in messages {
          var replies: [[UInt8]] = []
          for chunk in chunks {
            let chunkResults: [Swift.Result<Output, PoolError>]
            if chunk.inputs != nil {
              chunkResults = Array(results[position..<position + chunk.count])
              position += chunk.count
            } else {
              chunkResults = Array(repeating: .failure(.codingFailed(chunk.decodingError)), count: chunk.count)
            }
            replies.append(resultsMessage(job: chunk.job, first: chunk.first, chunkResults))
          }
          try world.send(ClusterMessage.bundle(replies), to: 0, tag: ClusterMessage.results)
        }
      default:
        throw ClusterError.protocolViolation("tag \(message.tag) from the driver")
      }
    }
  }

  /// A chunk as a rank receives it: its job, its tasks, and their inputs (nil when they
  /// could not be decoded, with why).
  private struct ReceivedChunk {
    var job: Int
    var first: Int
    var count: Int
    var inputs: [Input]?
    var decodingError = ""
  }

  private func decodeChunk(_ bytes: [UInt8]) throws -> ReceivedChunk {
    let (words, payload) = try ClusterMessage.split(bytes, words: 3)
    do {
      return ReceivedChunk(
        job: words[0], first: words[1], count: words[2], inputs: try codec.decodeInputs(payload, words[2]))
    } catch {
      return ReceivedChunk(job: words[0], first: words[1], count: words[2], inputs: nil, decodingError: "\(error)")
    }
  }

  /// A chunk's results as a message: the successes' outputs together, then the failures.
  private func resultsMessage(job: Int, first: Int, _ results: [Swift.Result<Output, PoolError>]) -> [UInt8] {
    var outputs: [Output] = []
    var failures: [RemoteFailure] = []
    for (index, result) in results.enumerated() {
      switch result {
      case .success(let output): outputs.append(output)
      case .failure(let error): failures.append(RemoteFailure(index: index, error))
      }
    }
    let encodedOutputs: [UInt8]
    do {
      encodedOutputs = try codec.encodeOutputs(outputs)
    } catch {
      // Outputs that cannot be encoded fail their tasks, as in a local pool.
      let failed = results.indices.map { RemoteFailure(index: $0, .codingFailed("\(error)")) }
      return resultsMessage(job: job, first: first, failures: failed)
    }
    return ClusterMessage.bytes(
      words: [job, first, results.count, encodedOutputs.count],
      payloads: [encodedOutputs, Self.encoded(failures)])
  }

  /// `failures` in `BinaryEncoder`'s form; nothing for none.
  private static func encoded(_ failures: [RemoteFailure]) -> [UInt8] {
    failures.isEmpty ? [] : Array((try? BinaryEncoder().encode(failures)) ?? Data())
  }

  private func resultsMessage(job: Int, first: Int, failures: [RemoteFailure]) -> [UInt8] {
    ClusterMessage.bytes(
      words: [job, first, failures.count, 0], payloads: [Self.encoded(failures)])
  }

  /// Tells every other rank to stop serving.
  private func stopRanks() throws {
    for destination in 1..<max(rankCount, 1) {
      try world.send([], to: destination, tag: ClusterMessage.stop)
    }
  }

  /// Finalizes MPI and closes the local pool (again: nothing).
  private func finish() {
    guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return }
    world.finalize()
    local.close()
    try? local.join()
  }
}
