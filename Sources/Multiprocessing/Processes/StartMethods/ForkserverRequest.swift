import Foundation
import SystemCalls
import SystemPackage

/// A request to a fork server for one child, as it travels on the control socket (one
/// `SOCK_SEQPACKET` message): a kind byte, then the child's ``ChildDescription`` when it is at
/// most ``inlineLimit`` bytes, or nothing more and the description in a memfd that travels as
/// the second descriptor. The first descriptor is always the server's end of the child's
/// status socket.
///
/// The server decodes the description before it forks, so that its child runs none of the
/// decoder: a forked child has none of the program's code mapped, and each page of it that
/// the child runs is a page fault.
enum ForkserverRequest {
  /// The kind byte of a request that carries its description.
  static let inline = UInt8(ascii: "I")
  /// The kind byte of a request whose description is in a memfd.
  static let inMemoryFile = UInt8(ascii: "F")
  /// The largest description a request carries itself; a larger one (a process's large
  /// arguments) goes in a memfd.
  static let inlineLimit = 16 * 1024
  /// The size of the buffer a server receives requests into: the largest request fits.
  static let capacity = 1 + inlineLimit

  /// Sends a request for `description` on `controlFD`, with `statusFD`, the server's end of
  /// the new child's status socket.
  static func send(
    _ description: ChildDescription, statusFD: FileDescriptor, on controlFD: FileDescriptor
  ) throws(ProcessError) {
    let encoded = try description.encoded()
    let payload = encoded.count > inlineLimit ? try ChildDescription.memfd(holding: encoded) : nil
    defer { payload?.release() }
    do {
      if let payload {
        try controlFD.send([inMemoryFile], descriptors: [statusFD, payload])
      } else {
        try controlFD.send([inline] + encoded, descriptors: [statusFD])
      }
    } catch {
      throw .forkserver("the server is gone (\(error))")
    }
  }

  /// The status descriptor and the description of a received request, `bytes` with
  /// `descriptors`; the description is nil when it cannot be read. Nil for a message that is
  /// no request, whose descriptors are closed.
  static func read(
    _ bytes: ArraySlice<UInt8>, descriptors: [FileDescriptor]
  ) -> (statusFD: FileDescriptor, description: ChildDescription?)? {
    if bytes.first == inline, descriptors.count == 1 {
      let description = bytes.dropFirst().withUnsafeBytes {
        try? BinaryDecoder().decode(ChildDescription.self, from: $0)
      }
      return (descriptors[0], description)
    }
    if bytes.first == inMemoryFile, descriptors.count == 2 {
      return (descriptors[0], try? ChildDescription.read(from: descriptors[1]))
    }
    for fd in descriptors { fd.release() }
    return nil
  }
}
