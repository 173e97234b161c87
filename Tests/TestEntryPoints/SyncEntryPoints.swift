import Foundation
import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// Arguments: a shared counter and how many locked increments to make.
public struct IncrementPlan: Codable, Sendable {
  /// The counter.
  public var value: SharedValue<Int>.Handle
  /// How many increments.
  public var times: Int
  /// A plan.
  public init(value: SharedValue<Int>.Handle, times: Int) {
    self.value = value
    self.times = times
  }
}

/// Arguments: a lock to take and an event to set once it is held.
public struct HoldPlan: Codable, Sendable {
  /// The lock (a ``Lock`` or ``RLock``).
  public var lock: SharedHandle
  /// Set once the lock is held.
  public var ready: SharedHandle
  /// A plan.
  public init(lock: SharedHandle, ready: SharedHandle) {
    self.lock = lock
    self.ready = ready
  }
}

/// Arguments: one of every synchronisation type, for a child to exercise.
public struct SyncPlan: Codable, Sendable {
  /// Released twice by the child.
  public var semaphore: SharedHandle
  /// Set by the child.
  public var event: SharedHandle
  /// Notified by the child once it set `flag` to 1.
  public var condition: Condition.Handle
  /// Set to 1 under the condition's lock.
  public var flag: SharedValue<Int>.Handle
  /// Each element negated by the child.
  public var array: SharedArray<Int>.Handle
  /// Bytes the child writes "hello from a child" into.
  public var memory: SharedMemory.Handle
  /// A plan.
  public init(
    semaphore: SharedHandle, event: SharedHandle, condition: Condition.Handle, flag: SharedValue<Int>.Handle,
    array: SharedArray<Int>.Handle, memory: SharedMemory.Handle
  ) {
    self.semaphore = semaphore
    self.event = event
    self.condition = condition
    self.flag = flag
    self.array = array
    self.memory = memory
  }
}

/// Arguments: a barrier to wait on, and where to record the arrival index.
public struct BarrierPlan: Codable, Sendable {
  /// The barrier.
  public var barrier: SharedHandle
  /// Where the index goes.
  public var results: SharedArray<Int>.Handle
  /// Which element of `results` is this child's.
  public var slot: Int
  /// A plan.
  public init(barrier: SharedHandle, results: SharedArray<Int>.Handle, slot: Int) {
    self.barrier = barrier
    self.results = results
    self.slot = slot
  }
}

/// Entry points that reopen shared objects from their handles, for spawn and forkserver.
public enum SyncEntryPoints {
  /// Makes `times` locked increments of the counter.
  public static let increment = EntryPoint<IncrementPlan>("increment") { plan in
    let value = try SharedValue<Int>(plan.value)
    for _ in 0..<plan.times { try value.withLock { $0 += 1 } }
  }
  /// Takes the lock, says so, and sleeps holding it until killed.
  public static let hold = EntryPoint<HoldPlan>("hold") { plan in
    let lock: any ProcessLock = plan.lock.kind == "Lock" ? try Lock(plan.lock) : try RLock(plan.lock)
    _ = try lock.acquire()
    try Event(plan.ready).set()
    while true { sleep(60) }
  }
  /// Releases the semaphore twice, negates the array, writes the bytes, sets the flag and
  /// notifies the condition, then sets the event.
  public static let exercise = EntryPoint<SyncPlan>("exercise") { plan in
    let semaphore = try Semaphore(plan.semaphore)
    try semaphore.release()
    try semaphore.release()
    let array = try SharedArray<Int>(plan.array)
    for index in array.indices { array[index] = -array[index] }
    let memory = try SharedMemory(plan.memory)
    let text = Array("hello from a child".utf8)
    memory.bytes.copyBytes(from: text)
    let condition = try Condition(plan.condition)
    let flag = try SharedValue<Int>(plan.flag)
    try condition.withLock {
      flag.value = 1
      try condition.notifyAll()
    }
    try Event(plan.event).set()
  }
  /// Waits on the barrier and records the arrival index (-1 if it broke).
  public static let barrierWait = EntryPoint<BarrierPlan>("barrier-wait") { plan in
    let barrier = try Barrier(plan.barrier)
    let results = try SharedArray<Int>(plan.results)
    do {
      results[plan.slot] = try barrier.wait(timeout: .seconds(20))
    } catch SynchronizationError.brokenBarrier {
      results[plan.slot] = -1
    }
  }

  /// Reopens the matrix and sets each cell to its row × 100 + its column, through a band view.
  public static let fillMatrix = EntryPoint<SharedMatrix<Int32>.Handle>("fill-matrix") { handle in
    let matrix = try SharedMatrix<Int32>(handle)
    let band = matrix.view.rows(0..<matrix.rows)
    for row in band.rowRange {
      for column in 0..<matrix.columns { band[row, column] = Int32(row * 100 + column) }
    }
  }

  /// Reopens the state, appends "child" to its words and writes them back.
  public static let extendState = EntryPoint<SharedState<[String]>.Handle>("extend-state") { handle in
    let state = try SharedState<[String]>(handle)
    try state.update(state.value + ["child"])
  }

  /// Reopens the value and fails unless it holds 5.
  public static let expectFive = EntryPoint<SharedValue<Int>.Handle>("expect-five") { handle in
    guard try SharedValue<Int>(handle).value == 5 else { throw ProcessExit(3) }
  }

  /// Reopens the connection's end and sends "hello" on it.
  public static let sendHello = EntryPoint<Connection.Handle>("send-hello") { handle in
    try Connection(handle).send("hello")
  }

  /// Every entry point above.
  public static let all: [any AnyEntryPoint] = [
    increment, hold, exercise, barrierWait, fillMatrix, extendState, expectFive, sendHello,
  ]
}
