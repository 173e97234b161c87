import CSystemShims
import Foundation
import Multiprocessing
import Synchronization
import Testing

/// `Spin.untilYielding` gives its CPU away once its pause phase is over, however long each
/// poll of its condition takes, and from its first poll with no pause phase.
@Suite(.timeLimit(.minutes(3))) struct SpinTests {
  /// A count that a busy thread bumps while it runs.
  final class Runs: Sendable {
    let count = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
  }

  /// Spins with `pausing` on CPU 0 beside a busy thread pinned there, polling a condition that
  /// takes `cost` and holds once the busy thread has run since the poll before; returns how
  /// many polls that took (the busy thread runs only while the spinner is off the CPU).
  static func pollsUntilTheOtherThreadRuns(pausing: Duration, cost: Duration) -> Int {
    let runs = Runs()
    let busyPinned = DispatchSemaphore(value: 0)
    let busy = Thread {
      _ = [Int32(0)].withUnsafeBufferPointer { cs_sched_setaffinity(0, $0.baseAddress, 1) }
      busyPinned.signal()
      while !runs.stop.load(ordering: .relaxed) { runs.count.add(1, ordering: .relaxed) }
    }
    busy.start()
    busyPinned.wait()
    let polls = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)
    let spinner = Thread {
      _ = [Int32(0)].withUnsafeBufferPointer { cs_sched_setaffinity(0, $0.baseAddress, 1) }
      var last = runs.count.load(ordering: .relaxed)
      var count = 0
      _ = Spin.untilYielding(limit: .seconds(1), pausing: pausing) {
        count += 1
        let end = ContinuousClock.now + cost
        while ContinuousClock.now < end {}
        let now = runs.count.load(ordering: .relaxed)
        defer { last = now }
        return now != last
      }
      polls.store(count, ordering: .relaxed)
      done.signal()
    }
    spinner.start()
    done.wait()
    runs.stop.store(true, ordering: .relaxed)
    return polls.load(ordering: .relaxed)
  }

  /// The median of five runs.
  static func medianPolls(pausing: Duration) -> (median: Int, all: [Int]) {
    let polls = (0..<5).map { _ in pollsUntilTheOtherThreadRuns(pausing: pausing, cost: .microseconds(1)) }
    return (polls.sorted()[2], polls)
  }

  @Test func aSlowConditionDoesNotStretchThePausePhase() {
    // 1 µs polls in a 2 µs pause phase: a couple of polls, then yields (here 5-6 polls in all;
    // when the clock was read every 32 polls, the phase lasted 32 of them).
    let polls = Self.medianPolls(pausing: Spin.pausePhase)
    #expect(polls.median <= 16, "polls before the busy thread on the same CPU ran: \(polls.all)")
  }

  @Test func theFirstPollYieldsWithoutAPausePhase() {
    // A yield may not hand the CPU over at once (the scheduler's fairness): here 4 polls.
    let unpaused = Self.medianPolls(pausing: .zero)
    #expect(unpaused.median <= 8, "polls before the busy thread on the same CPU ran: \(unpaused.all)")
    let paused = Self.medianPolls(pausing: .microseconds(20))
    #expect(paused.median >= 15, "polls before the busy thread ran, with a 20 µs pause phase: \(paused.all)")
  }

  @Test func aLongExpectedWaitHasNoPausePhase() {
    #expect(Spin.pausing(forExpectedWait: .zero) == Spin.pausePhase)
    #expect(Spin.pausing(forExpectedWait: .microseconds(20)) == Spin.pausePhase)
    #expect(Spin.pausing(forExpectedWait: .nanoseconds(20_001)) == .zero)
    #expect(Spin.pausing(forExpectedWait: .seconds(1)) == .zero)
  }
}
