import Multiprocessing
import SystemCalls

/// How the pool's thread waits for something to do, and is woken.
///
/// Before it sleeps it tells its links, so that a worker of the shared-memory link that sends
/// results rings its doorbell only then (and saves the system call while it is awake), and
/// looks once more: a worker that finished just before saw the announcement down. It then
/// sleeps in `poll` on the doorbell, its workers' sentinels and the descriptors of links
/// whose workers ring nothing (pipes that become readable), for a bounded time while work is
/// out. A caller that stops collecting rings the doorbell too.
struct DispatcherSleeper {
  /// The pipe workers and callers ring.
  let doorbell: PipeDoorbell
  /// The pool's links, told whether the pool's thread sleeps.
  let links: any PoolLinks

  init(doorbell: PipeDoorbell, links: any PoolLinks) {
    self.doorbell = doorbell
    self.links = links
  }

  /// Wakes the pool's thread, or makes its next sleep end at once.
  func ring() { doorbell.ring() }

  /// Announces that the pool's thread is going to sleep, unless `workCame` (looked at once
  /// the announcement is up) says there is work after all; false then, the announcement
  /// taken back.
  func announce(unless workCame: () -> Bool) -> Bool {
    links.setDispatcherSleeping(true)
    guard !workCame() else {
      links.setDispatcherSleeping(false)
      return false
    }
    return true
  }

  /// Sleeps until the doorbell rings, one of `watched` (the workers' sentinels, and the
  /// descriptors their links wake the pool's thread with) becomes readable or `timeout`
  /// passes (nil: until one of the first two; zero: not at all), then takes the announcement
  /// back and drains the doorbell's rings. Returns the descriptors that became readable.
  func sleep(for timeout: Duration?, watching watched: [Int32]) -> [Int32] {
    let ready = timeout == .zero ? [] : SystemCall.pollReadable([doorbell.pollDescriptor] + watched, timeout: timeout)
    links.setDispatcherSleeping(false)
    if ready.contains(doorbell.pollDescriptor) { doorbell.drain() }
    return ready
  }

  /// Closes the doorbell.
  func close() { doorbell.close() }
}
