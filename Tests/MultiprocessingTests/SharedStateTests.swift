import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A `Codable` value in shared memory: read as it is now by processes forked before it
/// changed, never torn, reopened by handle, and a value too large refused with the old kept.
@Suite(.timeLimit(.minutes(3))) struct SharedStateTests {
  @Test func aChildForkedBeforeAnUpdateReadsTheUpdate() throws {
    let state = try SharedState(["before"])
    let go = try Multiprocessing.Event()
    let seen = try SharedValue(0, lock: false)
    let child = try forked {
      guard go.wait(timeout: .seconds(20)) else { return }
      seen.value = state.value == ["after", "the", "fork"] ? 1 : -1
    }
    try state.update(["after", "the", "fork"])
    go.set()
    try child.join()
    #expect(seen.value == 1)
  }

  /// A reader in another process never sees a half-written value while a writer replaces it
  /// while it reads, with arrays whose elements all equal the write's number.
  @Test func readsAreNeverTorn() throws {
    let state = try SharedState([Int](repeating: 0, count: 500))
    let done = try SharedValue(0, lock: false)
    let report = try SharedArray(repeating: 0, count: 2)  // reads, torn reads
    let reader = try forked {
      while done.load() == 0 {
        let values = state.value
        report[0] += 1
        if values.contains(where: { $0 != values[0] }) || values.count != 500 { report[1] += 1 }
      }
    }
    #expect(eventually(within: .seconds(20)) { report[0] > 0 }, "the reader started")
    // Writes until the reader has read 2,000 times meanwhile (at least 1,000 writes, at most
    // 10 s), so that reads and writes overlap however busy the machine is.
    let (readsBefore, deadline) = (report[0], ContinuousClock.now + .seconds(10))
    var writes = 0
    while writes < 1000 || (report[0] - readsBefore < 2000 && ContinuousClock.now < deadline) {
      writes += 1
      try state.update([Int](repeating: writes, count: 500))
    }
    done.add(1)
    try reader.join()
    #expect(report[0] - readsBefore >= 2000, "reads overlapped the writes")
    #expect(report[1] == 0, "\(report[1]) of \(report[0]) reads were torn")
    #expect(state.value == [Int](repeating: writes, count: 500))
  }

  @Test(arguments: StartMethod.allCases)
  func reopenedByHandle(method: StartMethod) throws {
    let state = try SharedState(["parent"])
    let child = Fixture.process(method, SyncEntryPoints.extendState, state.handle)
    try child.start()
    try child.join()
    #expect(try child.exitCode == 0)
    #expect(state.value == ["parent", "child"])
  }

  @Test func aValueOverTheCapacityIsRefusedAndTheOldKept() throws {
    let state = try SharedState("short", capacity: 64)
    #expect(throws: EncodingError.self) { try state.update(String(repeating: "x", count: 100)) }
    #expect(state.value == "short")
    try state.update("also short")
    #expect(state.value == "also short")
  }
}
