import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Creating and dropping shared objects leaves no descriptor and no `/dev/shm` entry.
/// Counted in a forked child, where no other test opens descriptors meanwhile.
@Suite(.timeLimit(.minutes(3))) struct ResourceTests {
  static func openDescriptors() -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
  }

  @Test func sharedObjectsLeaveNoDescriptorOrSharedMemoryBehind() throws {
    let prefix = "mp-leak-\(getpid())-"
    let child = try forked {
      let before = Self.openDescriptors()
      for round in 0..<50 {
        let value = try SharedValue(round)
        let array = try SharedArray(repeating: round, count: 100)
        let lock = try Lock()
        let condition = try Condition(lock: lock)
        let barrier = try Barrier(parties: 1)
        let event = try Multiprocessing.Event()
        let semaphore = try BoundedSemaphore(value: 2)
        let reopened = try SharedValue<Int>(value.handle)
        let named = try SharedMemory.create(name: prefix + "\(round)", size: 4096)
        let attached = try SharedMemory.attach(name: named.name!)
        try named.unlink()
        try condition.withLock { try condition.notify() }
        try barrier.wait()
        event.set()
        semaphore.acquire()
        try semaphore.release()
        // Queues of both transports, and each reopened from its handle.
        let ring = try Queue<Int>(maxSize: 4)
        let pipe = try Queue<String>()
        try ring.put(round)
        try pipe.put("\(round)")
        _ = try (Queue<Int>(ring.handle).get(), Queue<String>(pipe.handle).get())
        _ = (reopened.value, array[99], attached.size)
      }
      let leftover = try FileManager.default.contentsOfDirectory(atPath: "/dev/shm").filter { $0.hasPrefix(prefix) }
      guard leftover.isEmpty else { throw ProcessExit(2) }
      let after = Self.openDescriptors()
      if after != before { throw ProcessExit(Int32(clamping: 10 + after - before)) }
    }
    try child.join()
    #expect(try child.exitCode == 0, "2: /dev/shm entries left; 10+N: N descriptors leaked")
  }

  @Test func aProcessObjectReleasesItsDescriptorsWhenClosed() throws {
    let child = try forked {
      let before = Self.openDescriptors()
      for _ in 0..<20 {
        let process = Multiprocessing.Process(startMethod: .fork) {}
        try process.start()
        try process.join()
        try process.close()
      }
      let after = Self.openDescriptors()
      if after != before { throw ProcessExit(Int32(clamping: 10 + after - before)) }
    }
    // Bounded: a stuck child fails this test instead of stalling the suite.
    if try child.join(timeout: .seconds(60)) == nil { try child.kill() }
    #expect(try child.join() == .exited(0))
  }
}
