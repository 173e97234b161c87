import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Connections (Python's `Pipe()`): values and bytes both ways, every start method, a peer
/// that dies, a wrong type, one-way ends, polling and waiting.
@Suite(.timeLimit(.minutes(2))) struct ConnectionTests {
  struct Reading: Codable, Equatable {
    var sensor: String
    var values: [Double]
  }

  @Test func valuesAndBytesBothWaysWithAForkedChild() throws {
    // What the child runs, run here first: a fork child must build no new type while the
    // test runner's other threads run (one may hold the runtime's lock at the fork, and a
    // child that waits on it waits for good; this test hung so once, in a full suite).
    let (warmEnd, warmPeer) = try Connection.pipe()
    try warmEnd.send(Reading(sensor: "", values: [0]))
    _ = try warmPeer.recv(Reading.self)
    try warmEnd.sendBytes(Array([UInt8(0)].reversed()))
    _ = try warmPeer.recvBytes()
    let (parentEnd, childEnd) = try Connection.pipe()
    let child = Multiprocessing.Process(startMethod: .fork) {
      var reading = try childEnd.recv(Reading.self)
      reading.values = reading.values.map { $0 * 2 }
      try childEnd.send(reading)
      try childEnd.sendBytes(Array(try childEnd.recvBytes().reversed()))
    }
    try child.start()
    childEnd.close()
    // Each answer awaited for a bounded time: a child that never answers fails the test and
    // is killed, rather than hanging the suite.
    func answered() throws -> Bool {
      if try parentEnd.poll(timeout: .seconds(20)) { return true }
      Issue.record("the forked child did not answer within 20 s")
      try child.kill()
      try child.join()
      return false
    }
    try parentEnd.send(Reading(sensor: "t1", values: [1.5, 2]))
    guard try answered() else { return }
    #expect(try parentEnd.recv(Reading.self) == Reading(sensor: "t1", values: [3, 4]))
    try parentEnd.sendBytes([1, 2, 3])
    guard try answered() else { return }
    #expect(try parentEnd.recvBytes() == [3, 2, 1])
    try child.join()
    #expect(try child.exitCode == 0)
    // The child is gone and the parent closed its copy of the child's end: end of stream.
    #expect(throws: ConnectionError.endOfStream) { try parentEnd.recvBytes() }
  }

  @Test(arguments: StartMethod.allCases)
  func aChildOfEveryStartMethodReopensItsEndFromAHandle(method: StartMethod) throws {
    let (parentEnd, childEnd) = try Connection.pipe()
    let child = Fixture.process(method, TestEntryPoints.connectionEcho, childEnd.handle)
    try child.start()
    try parentEnd.send(21)
    #expect(try parentEnd.recv(Int.self) == 42)
    try child.join()
    #expect(try child.exitCode == 0)
  }

  @Test func aPeerKilledWhileTheOtherWaitsEndsTheStream() throws {
    let (parentEnd, childEnd) = try Connection.pipe()
    let child = Multiprocessing.Process(startMethod: .fork) { sleep(30) }
    try child.start()
    childEnd.close()
    let killer = Thread {
      usleep(100_000)
      try? child.kill()
    }
    killer.start()
    let started = ContinuousClock.now
    #expect(throws: ConnectionError.endOfStream) { _ = try parentEnd.recv(Int.self) }
    #expect(ContinuousClock.now - started < .seconds(5))
    // And a send to nobody fails instead of raising SIGPIPE (which would end this process).
    #expect(throws: ConnectionError.peerGone) { try parentEnd.send(1) }
    try child.join()
  }

  @Test func aMessageOfTheWrongTypeIsTakenWhole() throws {
    let (a, b) = try Connection.pipe()
    try a.send("not a number")
    try a.send(7)
    do {
      _ = try b.recv(Reading.self)
      Issue.record("a String decoded as a Reading")
    } catch .codingFailed {
      // Expected; the next message reads normally: the bad one was consumed whole.
    } catch {
      Issue.record("expected codingFailed, got \(error)")
    }
    #expect(try b.poll(timeout: .seconds(1)), "the next message is there")
    #expect(try b.recv(Int.self) == 7)
  }

  /// A message over the limit a receiver asks for is refused, named, and dropped whole: the
  /// next message reads normally (a 200 KiB one is dropped in parts).
  @Test func aMessageOverTheLimitIsRefusedAndTheConnectionReadsOn() throws {
    let (reader, writer) = try Connection.pipe()
    let child = Multiprocessing.Process(startMethod: .fork) {
      try writer.sendBytes([UInt8](repeating: 7, count: 200 * 1024))
      try writer.sendBytes([1, 2, 3])
      try writer.sendBytes([UInt8](repeating: 9, count: 11))
    }
    try child.start()
    #expect(throws: ConnectionError.messageOverLimit(length: 200 * 1024, limit: 1024)) {
      try reader.recvBytes(maxLength: 1024)
    }
    #expect(try reader.recvBytes(maxLength: 3) == [1, 2, 3])
    #expect(throws: ConnectionError.messageOverLimit(length: 11, limit: 10)) { try reader.recvBytes(maxLength: 10) }
    try child.join()
    #expect(
      ConnectionError.messageOverLimit(length: 11, limit: 10).description
        == "a message of 11 bytes is over the limit of 10 asked for; it was dropped")
  }

  /// Receiving into a buffer: the count of bytes; a message that does not fit comes whole in
  /// the error, and the next one reads normally.
  @Test func bytesReceivedIntoABuffer() throws {
    let (reader, writer) = try Connection.pipe()
    try writer.sendBytes([1, 2, 3])
    try writer.sendBytes(Array(0..<100))
    try writer.sendBytes([9])
    var buffer = [UInt8](repeating: 0, count: 16)
    #expect(try buffer.withUnsafeMutableBytes { try reader.recvBytes(into: $0) } == 3)
    #expect(buffer.prefix(3) == [1, 2, 3])
    #expect(throws: ConnectionError.bufferTooShort(Array(0..<100))) {
      try buffer.withUnsafeMutableBytes { try reader.recvBytes(into: $0) }
    }
    #expect(try buffer.withUnsafeMutableBytes { try reader.recvBytes(into: $0) } == 1 && buffer[0] == 9)
  }

  @Test func oneWayEndsRefuseTheOtherDirection() throws {
    let (reader, writer) = try Connection.pipe(duplex: false)
    #expect(reader.readable && !reader.writable && writer.writable && !writer.readable)
    #expect(throws: ConnectionError.wrongDirection("send")) { try reader.send(1) }
    #expect(throws: ConnectionError.wrongDirection("receive")) { _ = try writer.recv(Int.self) }
    try writer.send([1, 2, 3])
    #expect(try reader.recv([Int].self) == [1, 2, 3])
  }

  @Test func pollAndWait() throws {
    let (a, b) = try Connection.pipe()
    #expect(try b.poll() == false)
    #expect(try b.poll(timeout: .milliseconds(20)) == false)
    try a.send("ping")
    #expect(try b.poll(timeout: .seconds(1)))
    let child = Multiprocessing.Process(startMethod: .fork) { usleep(50_000) }
    try child.start()
    let sentinel = try child.sentinel
    let first = Connection.wait(for: [a, b], sentinels: [sentinel], timeout: .seconds(2))
    #expect(first.connections.map(\.fileDescriptor) == [b.fileDescriptor] && first.sentinels.isEmpty)
    _ = try b.recv(String.self)
    let second = Connection.wait(for: [a, b], sentinels: [sentinel], timeout: .seconds(2))
    #expect(second.connections.isEmpty && second.sentinels == [sentinel])
    try child.join()
    #expect(Connection.wait(for: [a], timeout: .milliseconds(10)).connections.isEmpty)
  }

  @Test func aClosedEndSaysSo() throws {
    let (a, _) = try Connection.pipe()
    a.close()
    #expect(throws: ConnectionError.closed) { try a.send(1) }
    #expect(throws: ConnectionError.closed) { _ = try a.recv(Int.self) }
    #expect(a.fileDescriptor == nil)
  }
}
