import ComputeEngine
import Foundation
import Multiprocessing

/// A chunk's results as they travel from a rank (or the driver's local thread, into the
/// journal) to the driver.
extension ClusterPool {
  /// A results message's first task and results; its job must be `jobID` when given (a
  /// journal's records come from an earlier run).
  func decodeResults(
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

  /// What the journal keeps of a chunk's results: its runs of successes, each a results
  /// message of its own (`message`, the chunk's own, when none failed). A failed task is never
  /// recorded — a kernel's error, or a worker killed because the job was being ended — so
  /// that a rerun runs it again instead of replaying its failure.
  func journalRecords(
    job: Int, first: Int, _ results: [Swift.Result<Output, PoolError>], message: [UInt8]? = nil
  ) -> [[UInt8]] {
    var records: [[UInt8]] = []
    var runStart: Int?
    func closeRun(at end: Int) {
      guard let start = runStart else { return }
      if start == 0, end == results.count, let message {
        records.append(message)
      } else {
        records.append(resultsMessage(job: job, first: first + start, Array(results[start..<end])))
      }
      runStart = nil
    }
    for (index, result) in results.enumerated() {
      if case .success = result {
        if runStart == nil { runStart = index }
      } else {
        closeRun(at: index)
      }
    }
    closeRun(at: results.count)
    return records
  }

  /// A chunk's results as a message: the successes' outputs together, then the failures.
  func resultsMessage(job: Int, first: Int, _ results: [Swift.Result<Output, PoolError>]) -> [UInt8] {
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
      // Outputs that cannot be encoded fail their tasks, as in a local pool (no output is
      // left to encode then).
      return resultsMessage(job: job, first: first, results.map { _ in .failure(.codingFailed("\(error)")) })
    }
    return ClusterMessage.bytes(
      words: [job, first, results.count, encodedOutputs.count],
      payloads: [encodedOutputs, Self.encoded(failures)])
  }

  /// `failures` in `BinaryEncoder`'s form; nothing for none.
  static func encoded(_ failures: [RemoteFailure]) -> [UInt8] {
    failures.isEmpty ? [] : Array((try? BinaryEncoder().encode(failures)) ?? Data())
  }
}
