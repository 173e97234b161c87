import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Creating and dropping shared objects leaves no descriptor and no `/dev/shm` entry.
/// Counted in a child, where no other test opens descriptors meanwhile.
@Suite(.timeLimit(.minutes(3))) struct ResourceTests {
  /// In a spawned child: a fresh process, which holds none of the locks that the test runner's
  /// other threads may hold when a child is forked (a forked child of it once waited for ever
  /// on the Swift runtime's metadata lock in the middle of this loop).
  @Test func sharedObjectsLeaveNoDescriptorOrSharedMemoryBehind() throws {
    let child = Fixture.process(.spawn, TestEntryPoints.resourceRounds, "mp-leak-\(getpid())-")
    try child.start()
    // Bounded: a stuck child fails this test instead of stalling the suite.
    if try child.join(timeout: .seconds(120)) == nil { try child.kill() }
    #expect(
      try child.join() == .exited(0),
      "2: /dev/shm entries left; 3: a socket lost its message; 10+N: N descriptors leaked")
  }

  @Test func aProcessObjectReleasesItsDescriptorsWhenClosed() throws {
    let child = try forked {
      let before = openDescriptorCount()
      for _ in 0..<20 {
        let process = Multiprocessing.Process(startMethod: .fork) {}
        try process.start()
        try process.join()
        try process.close()
      }
      let after = openDescriptorCount()
      if after != before { throw ProcessExit(Int32(clamping: 10 + after - before)) }
    }
    // Bounded: a stuck child fails this test instead of stalling the suite.
    if try child.join(timeout: .seconds(60)) == nil { try child.kill() }
    #expect(try child.join() == .exited(0))
  }
}
