import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Anonymous and named shared memory, and a block shared with Python both ways.
@Suite(.timeLimit(.minutes(3))) struct SharedMemoryTests {
  @Test func anAnonymousBlockIsSharedWithAForkedChild() throws {
    let block = try SharedMemory(size: 4096)
    #expect(block.name == nil)
    #expect(block.bytes.allSatisfy { $0 == 0 })
    let child = try forked { block.bytes.copyBytes(from: Array("written by the child".utf8)) }
    try child.join()
    #expect(String(decoding: block.bytes.prefix(20), as: UTF8.self) == "written by the child")
    #expect(throws: SharedMemoryError.anonymous) { try block.unlink() }
  }

  @Test func aNamedBlockIsCreatedExclusivelyAttachedAndUnlinked() throws {
    let block = try SharedMemory.create(size: 100)
    let name = try #require(block.name)
    #expect(name.hasPrefix("mp-"))
    var status = stat()
    #expect(stat("/dev/shm/\(name)", &status) == 0)
    #expect(status.st_mode & 0o777 == 0o600)
    #expect(throws: SharedMemoryError.alreadyExists(name)) { try SharedMemory.create(name: name, size: 100) }
    block.bytes[0] = 42
    let attached = try SharedMemory.attach(name: name)
    #expect(attached.size == 100 && attached.bytes[0] == 42)
    try block.unlink()
    #expect(stat("/dev/shm/\(name)", &status) != 0)
    #expect(throws: SharedMemoryError.notFound(name)) { try SharedMemory.attach(name: name) }
    #expect(throws: SharedMemoryError.notFound(name)) { try block.unlink() }
    attached.bytes[1] = 7
    #expect(block.bytes[1] == 7, "the mapping outlives the name")
  }

  /// A handle (and a ring's, which holds one) is its fields in order, with no keys: what a
  /// pool worker decodes at its start. Both kinds of block come back whole through both
  /// coders, and reopen the same memory.
  @Test(arguments: [false, true]) func handlesTravelAsTheirFieldsInOrder(named: Bool) throws {
    let block = named ? try SharedMemory.create(size: 64) : try SharedMemory(size: 64)
    defer { if named { try? block.unlink() } }
    block.bytes[3] = 99
    let handle = block.handle
    let json = String(decoding: try JSONEncoder().encode(handle), as: UTF8.self)
    let source = named ? "[1,\"\(try #require(block.name))\"]" : "[0,\(getpid()),\(block.descriptor.rawValue)]"
    #expect(json == "[\(source),64]")
    for decoded in [
      try JSONDecoder().decode(SharedMemory.Handle.self, from: Data(json.utf8)),
      try BinaryDecoder().decode(SharedMemory.Handle.self, from: try BinaryEncoder().encode(handle)),
    ] {
      #expect(decoded == handle)
      let reopened = try SharedMemory(decoded)
      withExtendedLifetime(reopened) { #expect(reopened.bytes[3] == 99) }
    }
    let ring = try SlotRing<Int>(capacity: 8)
    let ringJSON = String(decoding: try JSONEncoder().encode(ring.handle), as: UTF8.self)
    #expect(ringJSON.hasPrefix("[[[0,"), "\(ringJSON)")
    let ringBytes = try BinaryEncoder().encode(ring.handle)
    let reopenedRing = try SlotRing<Int>(try BinaryDecoder().decode(SlotRing<Int>.Handle.self, from: ringBytes))
    try ring.push(5)
    #expect(reopenedRing.pop() == 5)
    let bytes = try ByteRing(capacity: 64)
    let bytesHandle = try JSONDecoder().decode(ByteRing.Handle.self, from: try JSONEncoder().encode(bytes.handle))
    let bytesReopened = try ByteRing(bytesHandle)
    #expect(bytesReopened.capacity == bytes.capacity)
  }

  /// A handle whose source is neither kind is refused with a message that says so.
  @Test func aHandleOfAnUnknownSourceIsRefused() {
    #expect {
      try JSONDecoder().decode(SharedMemory.Handle.self, from: Data("[[7,1,2],64]".utf8))
    } throws: { error in
      guard case DecodingError.dataCorrupted(let context) = error else { return false }
      return context.debugDescription == "7 is not a shared memory source (0 or 1)"
    }
  }

  @Test func badArguments() {
    #expect(throws: SharedMemoryError.invalidSize(0)) { try SharedMemory(size: 0) }
    #expect(throws: SharedMemoryError.invalidSize(-1)) { try SharedMemory.create(size: -1) }
    #expect(throws: SharedMemoryError.invalidName("a/b")) { try SharedMemory.create(name: "a/b", size: 1) }
    #expect(throws: SharedMemoryError.invalidName("")) { try SharedMemory.attach(name: "") }
    #expect(SharedMemoryError.invalidName("a/b").description.contains("without '/'"))
  }

  /// Runs a Python script and returns its standard output.
  func python(_ script: String) throws -> String {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return String(decoding: data, as: UTF8.self)
  }

  @Test func pythonReadsABlockMadeHere() throws {
    let block = try SharedMemory.create(size: 64)
    defer { try? block.unlink() }
    block.bytes.copyBytes(from: Array("from swift".utf8))
    let output = try python(
      """
      from multiprocessing import shared_memory, resource_tracker
      shm = shared_memory.SharedMemory(name="\(block.name!)")
      resource_tracker.unregister(shm._name, "shared_memory")  # Python 3.11 would unlink it at exit
      print(bytes(shm.buf[:10]).decode(), shm.size)
      shm.buf[10:14] = b"+py!"
      shm.close()
      """)
    #expect(output == "from swift 64\n")
    #expect(String(decoding: block.bytes[10..<14], as: UTF8.self) == "+py!")
  }

  @Test func aBlockMadeByPythonIsReadHere() throws {
    let name = "mp-py-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    _ = try python(
      """
      from multiprocessing import shared_memory, resource_tracker
      shm = shared_memory.SharedMemory(name="\(name)", create=True, size=32)
      resource_tracker.unregister(shm._name, "shared_memory")  # keep it after Python exits
      shm.buf[:11] = b"from python"
      shm.close()
      """)
    let block = try SharedMemory.attach(name: name)
    defer { try? block.unlink() }
    #expect(block.size == 32)
    #expect(String(decoding: block.bytes.prefix(11), as: UTF8.self) == "from python")
  }
}
