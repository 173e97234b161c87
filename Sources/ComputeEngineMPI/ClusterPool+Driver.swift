import ComputeEngine
import Foundation
import Multiprocessing
import Synchronization
import SystemPackage

/// The driver's side of a map: handing out chunks to the ranks and its own local thread,
/// collecting their results, and the report it leaves when the launcher ends the job.
extension ClusterPool {
  /// A map: hands out the chunks, records their results, and hands each chunk's results to
  /// `onChunk` on this thread as they arrive (those loaded from the journal first). Nil for
  /// no inputs.
  func run(
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
    let report = EndReport.install { Self.endReport(job: job, journal: journal, at: path) }
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
    let largestLocalBatch =
      chunkSize.map { max(1, ClusterJob<Output>.smallChunksTogether(workers: local.workerCount, chunkSize: $0)) } ?? 1
    startThread(named: "mp-cluster-map") { [inputs, self] in
      var localBatch = 1
      while let range = job.take(for: 0, chunks: localBatch) {
        let chunks = job.chunkCount(in: range)
        let started = ContinuousClock.now
        let results =
          (try? local.mapResults(Array(inputs[range]))) ?? Array(repeating: .failure(.closed), count: range.count)
        let perChunk = max((ContinuousClock.now - started) / chunks, .nanoseconds(1))
        localBatch = max(1, min(largestLocalBatch, Int(Duration.milliseconds(1) / perChunk)))
        do {
          for record in journalRecords(job: job.id, first: range.lowerBound, results) { try journal?.append(record) }
        } catch {
          localFailure.withLock { $0 = $0 ?? error }
        }
        // Queued before it is recorded: once the job is complete, every arrival is queued.
        localArrivals.withLock {
          $0.append((range.lowerBound, results))
          localArrivalCount.add(1, ordering: .releasing)
        }
        job.record(range.lowerBound, results)
      }
      localDone.signal()
    }
    defer { localDone.wait() }
    // A send on a communicator given up after a rank died completes in error, or never: its
    // bytes are kept until then, or for good.
    abandonedSends = abandonedSends.filter { (try? world.isComplete($0)) == false }
    var sends: [PendingSend] = []
    // Per rank: the chunk messages it holds, oldest first (it answers them in order), how
    // many chunks they carry, and how long its last chunks took each.
    var held: [[(sentAt: ContinuousClock.Instant, chunks: Int)]] = []
    var heldChunks: [Int] = []
    var perChunk: [Duration?] = []
    /// Starts over with every rank holding nothing: at the start, and after ranks died.
    func handOutAnew() throws {
      held = Array(repeating: [], count: rankCount)
      heldChunks = Array(repeating: 0, count: rankCount)
      perChunk = Array(repeating: nil, count: rankCount)
      for destination in 1..<max(rankCount, 1) { try refill(destination) }
    }
    /// How many chunks rank `destination` should hold: one when its chunks take long (a
    /// second would only wait there, and at the end of the job keep it busy while others
    /// idle); two otherwise, so that it never waits for the next; up to 64 per worker for
    /// small chunks, which go in one message and run through its local pool together.
    func chunksToHold(_ destination: Int) -> Int {
      if let last = perChunk[destination], last > .milliseconds(2) { return 1 }
      guard let chunkSize else { return 2 }
      return max(2, ClusterJob<Output>.smallChunksTogether(workers: workersPerRank[destination], chunkSize: chunkSize))
    }
    /// Tops rank `destination` up to the chunks it should hold: small chunks together, as one
    /// range in one message, others one per message (the rank then runs one while the next
    /// waits).
    func refill(_ destination: Int) throws {
      let hold = chunksToHold(destination)
      while heldChunks[destination] < hold,
        let range = job.take(for: destination, chunks: hold > 2 ? hold - heldChunks[destination] : 1)
      {
        let chunks = job.chunkCount(in: range)
        let message = ClusterMessage.bytes(
          words: [job.id, range.lowerBound, range.count], payloads: [try codec.encodeInputs(inputs[range])])
        sends.append(try world.startSend(ClusterMessage.bundle([message]), to: destination, tag: ClusterMessage.chunk))
        held[destination].append((.now, chunks))
        heldChunks[destination] += chunks
      }
    }
    var handedOut = false
    /// After a rank died: goes on with the survivors, handing out again what the ranks held
    /// (the sends on the communicator given up are kept until MPI is done with their bytes).
    func startOverWithSurvivors() throws {
      try recover(job)
      abandonedSends += sends
      sends = []
      handedOut = false
    }
    do {
      var backoff = IdleBackoff(spin: .microseconds(100))
      while !handedOut || !job.isComplete || !sends.isEmpty {
        try handOverLocalArrivals()
        let message: (source: Int, tag: Int32, count: Int)
        let bytes: [UInt8]
        do {
          if !handedOut {
            try handOutAnew()
            handedOut = true
          }
          // The oldest first, and only until one is still under way: testing every send on
          // every pass cost more than the tasks with hundreds held.
          while let oldest = sends.first, try world.isComplete(oldest) { sends.removeFirst() }
          guard let waiting = try world.poll() else {
            backoff.idle()
            continue
          }
          message = waiting
          bytes = try world.receive(message)
        } catch let error as ClusterError where error.isRankLoss && MPIWorld.isFaultTolerant {
          try startOverWithSurvivors()
          continue
        }
        backoff.reset()
        guard message.tag == ClusterMessage.results else {
          throw ClusterError.protocolViolation("tag \(message.tag) from rank \(message.source) during a map")
        }
        let chunkResults = try ClusterMessage.unbundle(bytes)
        // Results of an earlier map that ended early (it threw) are dropped.
        guard let firstResults = chunkResults.first, try ClusterMessage.split(firstResults, words: 1).words[0] == job.id
        else { continue }
        for bytes in chunkResults {
          let (first, results) = try decodeResults(bytes, job: job.id)
          if let journal {
            for record in journalRecords(job: job.id, first: first, results, message: bytes) {
              try journal.append(record)
            }
          }
          job.record(first, results)
          try onChunk(first, results)
        }
        let source = message.source
        if !held[source].isEmpty {
          let answered = held[source].removeFirst()
          heldChunks[source] -= answered.chunks
          perChunk[source] = (.now - answered.sentAt) / max(answered.chunks, 1)
        }
        do {
          try refill(source)
        } catch let error as ClusterError where error.isRankLoss && MPIWorld.isFaultTolerant {
          try startOverWithSurvivors()
        }
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

  /// What the driver prints when the launcher ends the job during a map (the journal is
  /// sealed first, so that the count it states is the one the rerun loads).
  static func endReport(job: ClusterJob<Output>, journal: ClusterJournal?, at path: FilePath?) -> String {
    let recorded = journal?.seal()
    let held = job.unanswered.sorted { $0.key < $1.key }.map { rank, ranges in
      "rank \(rank): tasks " + ranges.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
    }
    var report = "ClusterPool: the job was ended during a map (a rank died, or the launcher stopped it); "
    report += "\(job.doneCount) of \(job.count) tasks done. Unanswered chunks: "
    report += held.isEmpty ? "none" : held.joined(separator: "; ")
    if let path, let recorded {
      report += ". The journal \(path) holds \(recorded) tasks (the successes): run again with it to resume."
    } else {
      report += "."
    }
    return report + "\n"
  }
}
