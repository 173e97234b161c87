import Foundation
import SystemCalls

/// How a polling loop waits when a pass found nothing: without pause for `spin` after its
/// last activity (the next message often follows at once, and a sleep costs at least 50 µs
/// of timer slack), then sleeping 1, 2, 4 … µs, at most 1 ms, between passes. Open MPI's
/// blocking receive would spin for as long as it waits, on a CPU the local workers need.
/// Past its first 32 passes the spin gives the CPU to any thread that wants it between
/// passes (`sched_yield`, as `Spin.untilYielding`): the rank's local pool, or
/// the driver's local share, often waits for that CPU.
struct IdleBackoff {
  private let spin: Duration
  private var since = ContinuousClock.now
  private var idlePasses = 0
  private var pause: UInt32 = 0

  /// A loop that spins for `spin` after each activity.
  init(spin: Duration) {
    self.spin = spin
  }

  /// Something happened: spin again.
  mutating func reset() {
    (since, idlePasses, pause) = (.now, 0, 0)
  }

  /// Nothing happened on this pass: go on at once while spinning, else sleep a little longer
  /// than last time. The clock is read on the first of every 32 spinning passes: reading it
  /// on each cost more than the poll.
  mutating func idle() {
    if pause == 0 {
      idlePasses &+= 1
      if idlePasses > 32 { SystemCall.yieldProcessor() }
      guard idlePasses & 31 == 1, ContinuousClock.now - since >= spin else { return }
      pause = 1
    }
    usleep(pause)
    pause = min(pause * 2, 1000)
  }
}
