import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// The pipe link's byte pipes: messages whole and in order between processes, larger ones
/// than the pipe holds streamed through it, its end, its timeouts and its giving up on a
/// reader that is gone; and a pool made over the link really carrying its work through them.
@Suite(.timeLimit(.minutes(3))) struct SystemPipeTests {
  @Test func messagesCrossToAProcessThatReopensThePipeInOrderWhole() throws {
    let tasks = try SystemPipe(capacity: 64 * 1024)
    let answers = try SystemPipe(capacity: 64 * 1024)
    let (tasksHandle, answersHandle) = (tasks.handle, answers.handle)
    // The child reopens both from their handles, as a worker forked from a template does.
    let child = Multiprocessing.Process {
      let (input, output) = (try SystemPipe(tasksHandle), try SystemPipe(answersHandle))
      var lengths: [Int] = []
      while let message = try input.receive(spin: .zero, yielding: false) {
        guard message.allSatisfy({ $0 == UInt8(truncatingIfNeeded: message.count) }) else { throw ProcessExit(3) }
        lengths.append(message.count)
      }
      try output.send(lengths)
    }
    try child.start()
    defer { try? child.kill() }  // a failure here must not leave it waiting for the rest
    // Lengths up to 3 MiB: over the pipe's capacity, streamed while the child reads.
    let lengths = [0, 1, 7, 4096, 65_536, 100_000, 3 << 20]
    for length in lengths {
      let message = Data(repeating: UInt8(truncatingIfNeeded: length), count: length)
      try tasks.send(message, timeout: .seconds(30), peerGone: nil)
    }
    tasks.close()
    let reply = try #require(try answers.receive(timeout: .seconds(30)))
    #expect(try BinaryDecoder().decode([Int].self, from: reply) == lengths)
    #expect(try child.join(timeout: .seconds(30)) == .exited(0))
  }

  @Test func anEmptyPipeTimesOutAndAFullOneGivesUpOnAGoneReader() throws {
    let pipe = try SystemPipe(capacity: 64 * 1024)
    #expect(!pipe.hasData)
    #expect(throws: RingError.timedOut) { try pipe.receive(timeout: .milliseconds(50)) }
    let free = pipe.freeBytes
    #expect(free >= 64 * 1024)
    try pipe.send(Data(count: 1000), timeout: .zero, peerGone: nil)
    #expect(pipe.hasData && pipe.freeBytes == free - 1008, "a message is its length and its bytes")
    // Nobody reads: a send larger than the room left waits, and gives up when told the
    // reader is gone.
    var asked = 0
    #expect(throws: RingError.peerGone) {
      try pipe.send(Data(count: free * 2), timeout: nil) {
        asked += 1
        return asked > 2
      }
    }
    #expect(throws: RingError.timedOut) {
      try pipe.send(Data(count: free * 2), timeout: .milliseconds(20), peerGone: nil)
    }
  }

  /// A pool over the pipe link: every worker's channels are pipe channels, each worker holds
  /// the two pipes it reopened from the pool's process, and the work comes back right.
  @Test func aPoolOverThePipeLinkCarriesItsWorkThroughPipes() throws {
    let pool = try linkedPool(.pipes, placement: .cores(2)) { (input: Int) in input &* 5 }
    defer { pool.terminate() }
    #expect(try pool.map(Array(0..<1000), chunkSize: 7) == (0..<1000).map { $0 &* 5 })
    let transports = pool.dispatcher.lock.withLock { pool.dispatcher.workers.map(\.channels) }
    #expect(transports.count == 2 && transports.allSatisfy { $0 is PipeChannels<Int, Int> })
    for pid in pool.workerPIDs {
      let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
      let pipes = descriptors.compactMap {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
      }.filter { $0.hasPrefix("pipe:") }
      #expect(pipes.count >= 2, "worker \(pid) holds \(pipes)")
    }
  }

  /// The pipe link shares nothing with its workers but its pipes, and still learns what they
  /// do. A spawned worker inherits no mapping, so what it maps it opened from its plan: over
  /// the pipes, no shared memory at all (no rings, no control block) and no doorbell; over
  /// the shared-memory link, its rings and its line of the control block, and the doorbell
  /// it reopened. The pool's thread learns that the worker reported in, and how long its
  /// tasks take, from the worker's messages.
  @Test func aSpawnedWorkerOfThePipeLinkSharesNoMemoryWithItsPool() throws {
    _ = Fixture.ready
    for (kernel, sharesMemory) in [(PoolKernels.pipedText, false), (PoolKernels.text, true)] {
      let pool = try ProcessPool(placement: .cores(1), startMethod: .spawn, kernel: kernel)
      defer {
        pool.terminate()
        try? pool.join()
      }
      let words = (0..<200).map { "word \($0)" }
      #expect(try pool.map(words, chunkSize: 3) == words.map { $0.uppercased() })
      let (links, status, doorbell) = pool.dispatcher.lock.withLock {
        (pool.dispatcher.links, pool.dispatcher.workers[0].status, pool.dispatcher.sleeper.doorbell.writeEnd.rawValue)
      }
      let doorbellPipe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(doorbell)")
      #expect((links is PipeLinks<String, String>) == !sharesMemory)
      #expect(status.reportedIn && status.taskNanoseconds > 0 && status.current == -1, "\(kernel.name)")
      let pid = try #require(pool.workerPIDs.first)
      let maps = procFile("/proc/\(pid)/maps")
      let shared = maps.split(separator: "\n").filter { $0.contains("/memfd:") || $0.contains("/dev/shm/") }
      #expect(shared.isEmpty == !sharesMemory, "\(kernel.name): \(shared)")
      let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
      }
      #expect(
        descriptors.contains(doorbellPipe) == sharesMemory, "\(kernel.name): \(doorbellPipe) among \(descriptors)")
    }
  }
}
