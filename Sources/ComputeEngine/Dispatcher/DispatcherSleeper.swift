import Multiprocessing
import SystemCalls

/// How the pool's thread waits for something to do, and is woken.
///
/// Before it sleeps it says so in the control block, so that a worker that sends results
/// rings its doorbell only then (and saves the system call while it is awake), and looks once
/// more: a worker that finished just before saw the announcement down. It then sleeps in
/// `poll` on the doorbell and its workers' sentinels, for a bounded time while work is out.
/// A caller that stops collecting rings the doorbell too.
struct DispatcherSleeper {
  /// The pipe workers and callers ring.
  let doorbell: PipeDoorbell
  /// The control block, whose header says whether the pool's thread sleeps.
  let control: PoolControl

  /// Wakes the pool's thread, or makes its next sleep end at once.
  func ring() { doorbell.ring() }

  /// Announces that the pool's thread is going to sleep, unless `workCame` (looked at once
  /// the announcement is up) says there is work after all; false then, the announcement
  /// taken back.
  func announce(unless workCame: () -> Bool) -> Bool {
    control.header(.dispatcherSleeping).value = 1
    guard !workCame() else {
      control.header(.dispatcherSleeping).value = 0
      return false
    }
    return true
  }

  /// Sleeps until the doorbell rings, one of `sentinels` becomes readable or `timeout` passes
  /// (nil: until one of the first two; zero: not at all), then takes the announcement back
  /// and drains the doorbell's rings. Returns the descriptors that became readable.
  func sleep(for timeout: Duration?, watching sentinels: [Int32]) -> [Int32] {
    let ready = timeout == .zero ? [] : SystemCall.pollReadable([doorbell.pollDescriptor] + sentinels, timeout: timeout)
    control.header(.dispatcherSleeping).value = 0
    if ready.contains(doorbell.pollDescriptor) { doorbell.drain() }
    return ready
  }

  /// Closes the doorbell.
  func close() { doorbell.close() }
}
