import Foundation
import SystemCalls
import SystemPackage
import Testing

@testable import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// A fork server's requests: the server reads the description the client sent, a small one
/// from the message itself and a large one from a memfd; a message that is no request is
/// refused with its descriptors closed. (Three minutes, as most suites have: these tests take
/// milliseconds, but a full run's long synchronous tests can hold the cooperative pool's two
/// threads for over a minute while their clocks run.)
@Suite(.timeLimit(.minutes(3))) struct ForkserverRequestTests {
  private func description(argumentBytes count: Int) -> ChildDescription {
    ChildDescription(
      entryPoint: "check-bytes", arguments: Data((0..<count).map { UInt8($0 % 251) }), name: "Process-7:2",
      identity: [7, 2], daemon: true, startMethod: .forkserver, parentPid: 1234, parentName: "MainProcess")
  }

  /// Sends a request for `description` over a new control socket and receives it as a
  /// server does: the message's length, its descriptors' count and what the server reads.
  private func sendAndRead(
    _ description: ChildDescription
  ) throws -> (bytes: Int, descriptors: Int, read: ChildDescription?) {
    let (client, server) = try FileDescriptor.socketPairClosingOnExec(type: Int32(SOCK_SEQPACKET.rawValue))
    defer {
      client.release()
      server.release()
    }
    let (status, serverStatus) = try FileDescriptor.socketPairClosingOnExec(type: Int32(SOCK_STREAM.rawValue))
    defer { status.release() }
    try ForkserverRequest.send(description, statusFD: serverStatus, on: client)
    serverStatus.release()
    var buffer = [UInt8](repeating: 0, count: ForkserverRequest.capacity)
    let received = try server.receive(into: &buffer)
    let request = try #require(ForkserverRequest.read(buffer[..<received.count], descriptors: received.descriptors))
    request.statusFD.release()
    return (received.count, received.descriptors.count, request.description)
  }

  /// A description is its fields in order (no keys, which cost each template's first
  /// request), with or without a start method.
  @Test(arguments: [nil, StartMethod.spawn]) func aDescriptionComesBackWhole(startMethod: StartMethod?) throws {
    var sent = description(argumentBytes: 3)
    sent.startMethod = startMethod
    let read = try BinaryDecoder().decode(ChildDescription.self, from: try sent.encoded())
    #expect(read.entryPoint == "check-bytes" && read.arguments == Data([0, 1, 2]) && read.name == "Process-7:2")
    #expect(read.identity == [7, 2] && read.daemon && read.startMethod == startMethod)
    #expect(read.parentPid == 1234 && read.parentName == "MainProcess")
    let json = String(decoding: try JSONEncoder().encode(sent), as: UTF8.self)
    #expect(json.hasPrefix("[\"check-bytes\",\"AAEC\",\"Process-7:2\",[7,2],true,"), "\(json)")
  }

  @Test func aSmallDescriptionTravelsInTheMessage() throws {
    let sent = description(argumentBytes: 1000)
    let (bytes, descriptors, read) = try sendAndRead(sent)
    #expect(descriptors == 1)
    #expect(bytes == 1 + (try sent.encoded().count))
    #expect(try read?.encoded() == sent.encoded())
  }

  @Test func aLargeDescriptionTravelsInAMemoryFile() throws {
    let sent = description(argumentBytes: ForkserverRequest.inlineLimit)
    #expect(try sent.encoded().count > ForkserverRequest.inlineLimit)
    let (bytes, descriptors, read) = try sendAndRead(sent)
    #expect(descriptors == 2 && bytes == 1)
    #expect(try read?.encoded() == sent.encoded())
  }

  /// The server forks a child for a request whose description it cannot read (the child
  /// exits with 70), so such a request still names its status descriptor.
  @Test func anUnreadableDescriptionStillNamesItsStatusDescriptor() throws {
    let status = FileDescriptor(rawValue: 1000)
    let request = try #require(ForkserverRequest.read([ForkserverRequest.inline, 1, 2, 3], descriptors: [status]))
    #expect(request.statusFD == status)
    #expect(request.description == nil)
  }

  @Test(arguments: [
    ([UInt8(ascii: "X")], 1), ([ForkserverRequest.inline], 2), ([ForkserverRequest.inMemoryFile], 1), ([], 1),
  ])
  func aMessageThatIsNoRequestIsRefusedWithItsDescriptorsClosed(bytes: [UInt8], descriptorCount: Int) throws {
    let pipes = try (0..<descriptorCount).map { _ in try FileDescriptor.pipe() }
    defer { for pipe in pipes { pipe.readEnd.release() } }
    #expect(ForkserverRequest.read(bytes[...], descriptors: pipes.map(\.writeEnd)) == nil)
    // Each pipe's only write end was the one refused: closed, so the pipe is at its end.
    // (Read only then: with a write end left open, the read would wait for ever.)
    for pipe in pipes {
      let ended = SystemCall.pollReadable([pipe.readEnd.rawValue], timeout: .seconds(2)) == [pipe.readEnd.rawValue]
      var byte: UInt8 = 0
      #expect(ended && read(pipe.readEnd.rawValue, &byte, 1) == 0)
    }
  }
}
