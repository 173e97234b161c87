import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Listener and Client (Python's `multiprocessing.connection`): Unix-domain and TCP, the
/// authentication key checked both ways, Python's own client and listener talking to ours,
/// and misuse.
@Suite(.timeLimit(.minutes(2))) struct ListenerTests {
  static let key = Array("a shared secret".utf8)

  static func unixPath() -> String { NSTemporaryDirectory() + "listener-\(getpid())-\(UUID().uuidString.prefix(8))" }

  /// Runs `body` on a thread of its own; the result comes back through `join`.
  final class Background<T: Sendable>: @unchecked Sendable {
    // @unchecked: `result` is written by the thread before it signals `done`, and read after.
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> T) {
      Thread { [self] in
        result = Result { try body() }
        done.signal()
      }.start()
    }

    func join() throws -> T {
      done.wait()
      return try result!.get()
    }
  }

  @Test(arguments: [true, false])
  func aForkedClientTalksToTheListenerOverUnixAndTCP(unix: Bool) throws {
    let listener = try Listener(unix ? .unix(path: Self.unixPath()) : .loopback)
    let address = listener.address
    let client = Multiprocessing.Process(startMethod: .fork) {
      let connection = try Connection.connect(to: address)
      try connection.send(try connection.recv([Int].self).map { $0 * 2 })
      try connection.sendBytes(Array(try connection.recvBytes().reversed()))
    }
    try client.start()
    let connection = try listener.accept()
    try connection.send([1, 2, 3])
    #expect(try connection.recv([Int].self) == [2, 4, 6])
    try connection.sendBytes(Array(0..<200))
    #expect(try connection.recvBytes() == Array((0..<200).reversed()))
    try client.join()
    #expect(try client.exitCode == 0)
    #expect(throws: ConnectionError.endOfStream) { try connection.recvBytes() }
    listener.close()
    if case .unix(let path) = address {
      #expect(!FileManager.default.fileExists(atPath: path), "close removes the path")
    }
  }

  /// A wrong key and a missing one are refused, each with a typed error on both sides, and the
  /// listener accepts the next connection, whose key is right.
  @Test func theKeyIsCheckedBothWaysAndTheListenerGoesOn() throws {
    let listener = try Listener(.loopback, authKey: Self.key)
    let address = listener.address
    let wrong = Background { try Connection.connect(to: address, authKey: Array("another".utf8)) }
    #expect(throws: ConnectionError.self) { try listener.accept() }
    #expect {
      _ = try wrong.join()
    } throws: { error in
      (error as? ConnectionError).map { "\($0)".contains("authentication failed: the peer rejected this key") } ?? false
    }
    // No key at all: the client's first message is no answer to the challenge.
    let keyless = Background { () -> [UInt8] in
      let connection = try Connection.connect(to: address)
      _ = try connection.recvBytes()  // the challenge, which it does not understand
      try connection.sendBytes(Array("hello".utf8))
      return try connection.recvBytes()
    }
    #expect {
      _ = try listener.accept()
    } throws: { error in
      (error as? ConnectionError).map { "\($0)".contains("is not the HMAC of this key") } ?? false
    }
    #expect(try keyless.join() == Array("#FAILURE#".utf8))
    let right = Background { () -> [UInt8] in
      let connection = try Connection.connect(to: address, authKey: Self.key)
      try connection.sendBytes(Array("ping".utf8))
      return try connection.recvBytes()
    }
    let connection = try listener.accept()
    try connection.sendBytes(Array(try connection.recvBytes().reversed()))
    #expect(try right.join() == Array("gnip".utf8))
  }

  /// Python's `multiprocessing.connection.Client` with the same key talks to our listener, in
  /// Python's framing (a message over 64 KiB too); a Python client with another key is refused.
  @Test func pythonsClientTalksToOurListener() throws {
    let listener = try Listener(.loopback, authKey: Self.key)
    guard case .tcp(_, let port) = listener.address else { throw ListenerTestFailure("not TCP") }
    let script = """
      import sys
      from multiprocessing.connection import Client
      c = Client(('127.0.0.1', \(port)), authkey=sys.argv[1].encode())
      c.send_bytes(c.recv_bytes()[::-1])
      c.send_bytes(len(c.recv_bytes()).to_bytes(8, 'big'))
      c.close()
      """
    let refused = try Self.python(script, arguments: ["another key"])
    #expect(throws: ConnectionError.self) { try listener.accept() }
    #expect(refused.finish().status != 0, "Python's client is refused too")
    let python = try Self.python(script, arguments: [String(decoding: Self.key, as: UTF8.self)])
    let connection = try listener.accept()
    try connection.sendBytes(Array("from swift".utf8))
    #expect(try connection.recvBytes() == Array("tfiws morf".utf8))
    try connection.sendBytes([UInt8](repeating: 7, count: 100_000))
    #expect(try connection.recvBytes() == withUnsafeBytes(of: UInt64(100_000).bigEndian) { Array($0) })
    let (status, output) = python.finish()
    #expect(status == 0, "\(output)")
  }

  /// A listener on a name in Linux's abstract namespace: Python's client reaches it at
  /// `'\0' + name`, no file is made, and the name is gone once the listener closes.
  @Test func anAbstractNameServesPythonAndLeavesNothing() throws {
    let name = "swift-mp-test-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    let listed = { (try? abstractSocketNames().contains("@" + name)) ?? false }
    do {
      let listener = try Listener(.abstract(name: name), authKey: Self.key)
      #expect(listener.address.description == "@" + name)
      #expect(listed())
      let script = """
        import sys
        from multiprocessing.connection import Client
        c = Client('\\0' + sys.argv[2], authkey=sys.argv[1].encode())
        c.send_bytes(c.recv_bytes().upper())
        c.close()
        """
      let python = try Self.python(script, arguments: [String(decoding: Self.key, as: UTF8.self), name])
      let connection = try listener.accept()
      try connection.sendBytes(Array("abstract".utf8))
      #expect(try connection.recvBytes() == Array("ABSTRACT".utf8))
      let (status, output) = python.finish()
      #expect(status == 0, "\(output)")
      listener.close()
      #expect(throws: ConnectionError.self) { _ = try Connection.connect(to: .abstract(name: name), authKey: Self.key) }
    }
    // A child another test forks meanwhile holds a copy of the listening socket until it
    // ends (fork keeps close-on-exec descriptors): the name goes with the last copy.
    let deadline = ContinuousClock.now + .seconds(10)
    while listed(), ContinuousClock.now < deadline { usleep(10_000) }
    #expect(!listed(), "the name is gone with the listener")
  }

  /// Our client, with the same key, talks to Python's `multiprocessing.connection.Listener`;
  /// with another key it is refused, and so is it by Python.
  @Test func ourClientTalksToPythonsListener() throws {
    let python = try Self.python(
      """
      import sys
      from multiprocessing.connection import Listener, AuthenticationError
      listener = Listener(('127.0.0.1', 0), authkey=sys.argv[1].encode())
      print(listener.address[1], flush=True)
      while True:
          try:
              c = listener.accept()
          except AuthenticationError:
              print('refused', flush=True)
              continue
          c.send_bytes(c.recv_bytes().upper())
          c.close()
          break
      listener.close()
      """, arguments: [String(decoding: Self.key, as: UTF8.self)])
    let port = try #require(Int(python.readLine()), "Python's listener prints its port")
    #expect(throws: ConnectionError.self) {
      try Connection.connect(to: .tcp(host: "127.0.0.1", port: port), authKey: Array("another".utf8))
    }
    #expect(python.readLine() == "refused")
    let connection = try Connection.connect(to: .tcp(host: "127.0.0.1", port: port), authKey: Self.key)
    try connection.sendBytes(Array("hello python".utf8))
    #expect(try connection.recvBytes() == Array("HELLO PYTHON".utf8))
    let (status, output) = python.finish()
    #expect(status == 0, "\(output)")
  }

  @Test func closeWakesAnAcceptWaitingOnAnotherThread() throws {
    let listener = try Listener(.unix(path: Self.unixPath()))
    let waiting = Background { () -> ConnectionError? in
      do throws(ConnectionError) {
        _ = try listener.accept()
        return nil
      } catch { return error }
    }
    usleep(100_000)
    listener.close()
    #expect(try waiting.join() == .closed)
    #expect(throws: ConnectionError.closed) { try listener.accept() }
  }

  @Test func misuseIsATypedError() throws {
    let long = "/tmp/" + String(repeating: "x", count: 120)
    #expect(throws: ConnectionError.system(call: "listen", errno: .fileNameTooLong)) {
      try Listener(.unix(path: long))
    }
    let listener = try Listener(.loopback)
    #expect(throws: ConnectionError.system(call: "listen", errno: .addressInUse)) { try Listener(listener.address) }
    let path = Self.unixPath()
    #expect(throws: ConnectionError.system(call: "connect", errno: .noSuchFileOrDirectory)) {
      try Connection.connect(to: .unix(path: path))
    }
    listener.close()
    #expect(throws: ConnectionError.system(call: "connect", errno: .connectionRefused)) {
      try Connection.connect(to: listener.address)
    }
    #expect(throws: ConnectionError.authenticationFailed("an empty authentication key protects nothing")) {
      try Listener(.loopback, authKey: [])
    }
  }

  struct ListenerTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
  }

  /// A running `python3 -c script`: its output line by line, then its end.
  final class PythonProcess: @unchecked Sendable {
    // @unchecked: used by the test's thread only.
    let process = Foundation.Process()
    private let output = Pipe()
    private var buffered = Data()

    init(_ script: String, arguments: [String]) throws {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["python3", "-c", script] + arguments
      process.standardOutput = output
      process.standardError = output
      try process.run()
    }

    /// The next line it printed ("" at its end).
    func readLine() -> String {
      while !buffered.contains(UInt8(ascii: "\n")) {
        let more = output.fileHandleForReading.availableData
        if more.isEmpty { break }
        buffered += more
      }
      let end = buffered.firstIndex(of: UInt8(ascii: "\n")) ?? buffered.endIndex
      let line = String(decoding: buffered[..<end], as: UTF8.self)
      buffered = Data(buffered[min(end + 1, buffered.endIndex)...])
      return line
    }

    /// Waits for it to end: its status and everything else it printed.
    func finish() -> (status: Int32, output: String) {
      let rest = output.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      return (process.terminationStatus, String(decoding: buffered + rest, as: UTF8.self))
    }
  }

  static func python(_ script: String, arguments: [String]) throws -> PythonProcess {
    try PythonProcess(script, arguments: arguments)
  }
}
