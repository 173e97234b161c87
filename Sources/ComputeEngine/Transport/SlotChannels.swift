import Foundation
import Multiprocessing
import SystemCalls

/// Channels of typed slots, for `BitwiseCopyable` inputs and outputs: no serialisation, and
/// whole batches copied as bytes.
final class SlotChannels<Input: BitwiseCopyable, Output: BitwiseCopyable>: WorkerTransport,
  @unchecked Sendable
{
  struct Handles: Codable {
    var tasks: SlotRing<TaskSlot<Input>>.Handle
    var results: SlotRing<ResultSlot<Output>>.Handle
    var failures: ByteRing.Handle
  }

  let tasks: SlotRing<TaskSlot<Input>>
  let results: SlotRing<ResultSlot<Output>>
  let failures: ByteRing
  private let taskBuffer = UnsafeMutableBufferPointer<TaskSlot<Input>>.allocate(capacity: PoolLimits.maxChunk)
  private let resultBuffer = UnsafeMutableBufferPointer<ResultSlot<Output>>.allocate(capacity: PoolLimits.maxChunk)

  init(capacity: Int) throws {
    tasks = try SlotRing(capacity: capacity, mode: .singleProducerSingleConsumer)
    results = try SlotRing(capacity: capacity, mode: .singleProducerSingleConsumer)
    failures = try ByteRing(capacity: 64 * 1024)
    // A worker reports a kernel's error through a byte ring: run that path once here, before
    // any fork (see ByteChannels.warmUp).
    _ = try? BinaryEncoder().encode(TaskFailure(index: TaskID(rawValue: 0), message: ""))
  }

  init(handleData: Data) throws {
    let handles = try BinaryDecoder().decode(Handles.self, from: handleData)
    tasks = try SlotRing(handles.tasks)
    results = try SlotRing(handles.results)
    failures = try ByteRing(handles.failures)
  }

  deinit {
    taskBuffer.deallocate()
    resultBuffer.deallocate()
  }

  var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! BinaryEncoder().encode(Handles(tasks: tasks.handle, results: results.handle, failures: failures.handle))
  }

  var hasResults: Bool { results.count > 0 || failures.hasData }
  var resultsNeverWait: Bool { true }

  func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws {
    // Chunks are at most PoolLimits.maxChunk long.
    for (position, local) in range.enumerated() {
      taskBuffer[position] = TaskSlot(index: TaskID(job: jobID, local: local), input: inputs[local])
    }
    try tasks.push(contentsOf: UnsafeBufferPointer(rebasing: taskBuffer[0..<range.count]))
  }

  func drain(
    succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void
  ) {
    let slotStride = MemoryLayout<ResultSlot<Output>>.stride
    let outputOffset = MemoryLayout<ResultSlot<Output>>.offset(of: \.output)!
    while true {
      let count = results.tryPop(into: resultBuffer)
      guard count > 0 else { break }
      // Results of one chunk come back in order: hand over each run of consecutive tasks.
      var start = 0
      while start < count {
        let first = resultBuffer[start].index
        var end = start + 1
        while end < count, resultBuffer[end].index == first.advanced(by: end - start) { end += 1 }
        succeedRun(
          OutputRun(
            firstIndex: first, count: end - start,
            outputs: UnsafeRawPointer(resultBuffer.baseAddress! + start) + outputOffset, stride: slotStride,
            byteCount: MemoryLayout<Output>.size))
        start = end
      }
    }
    while failures.hasData, let failure = try? failures.receive(TaskFailure.self, timeout: drainTimeout) {
      fail(failure.index, failure.error)
    }
  }

  func close() {
    tasks.close()
  }

  func sendBoardMarker() {
    // Only the task's number is read from a marker: its input bytes stay zero.
    let slot = UnsafeMutableRawPointer(taskBuffer.baseAddress!)
    slot.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<TaskSlot<Input>>.stride)
    slot.storeBytes(
      of: TaskID(rawValue: 0), toByteOffset: MemoryLayout<TaskSlot<Input>>.offset(of: \.index)!, as: TaskID.self)
    // The pool uses the board only while no other job is out, so the ring has room; it is
    // closed only once the pool shuts down, when the marker no longer matters.
    _ = try? tasks.tryPush(taskBuffer[0])
  }

  /// Worker: sends a task's failure, having woken the parent first: the failure ring may be
  /// full, and only the parent makes room (an `async` job on the board has no caller
  /// collecting, and the pool's thread may sleep without a timeout).
  private func sendFailure(_ index: TaskID, _ error: any Error, wakeParent: () -> Void) throws {
    wakeParent()
    try failures.send(TaskFailure(index: index, message: "\(error)"))
  }

  /// Worker: claims chunks of the board's job until none is free, running each chunk's
  /// pending tasks (see ``ClaimBoard`` for the protocol and what a death at each step leaves).
  /// Returns whether this worker counted the round's last chunk while no caller was
  /// collecting (so that the pool's thread must be woken to finish the job).
  private func serveBoard(
    _ role: BoardRole, status: WorkerStatus, kernel: (Input) throws -> Output, wakeParent: () -> Void
  ) throws -> Bool {
    let board = role.board
    var completed = false
    var uncollected = false
    while let chunk = board.claim(by: role.incarnation) {
      role.reached(.claimed)
      // Read after the claim: the round cannot change while this worker holds one of its chunks.
      let round = board.header(.round).value
      let job = board.header(.job).value
      let offset = board.header(.offset).value
      let tasks = ClaimBoard.tasks(
        of: chunk, count: board.header(.count).value, chunkSize: board.header(.chunkSize).value)
      if status.boardRound != round {
        status.boardChunks = 0
        status.boardRound = round
      }
      let started = monotonicNanoseconds()
      for task in tasks where board.state(task).pointee == ClaimBoard.pending {
        let index = TaskID(job: job, local: offset + task)
        status.start(index)
        do {
          board.output(task).storeBytes(of: try kernel(board.input(task).load(as: Input.self)), as: Output.self)
          board.state(task).pointee = ClaimBoard.succeeded
        } catch {
          try sendFailure(index, error, wakeParent: wakeParent)
          board.state(task).pointee = ClaimBoard.failed
        }
        if task == tasks.lowerBound { role.reached(.betweenTasks) }
      }
      status.current = -1
      status.taskNanoseconds = max(1, (monotonicNanoseconds() - started) / max(1, tasks.count))
      role.reached(.beforeDone)
      board.owner(chunk).value = ClaimBoard.doneMark(role.incarnation)
      role.reached(.afterDone)
      // Read before counting: a caller collecting now stays until it sees the count (or
      // rings the pool's thread itself when it gives up).
      uncollected = role.control.header(.collectors).value == 0
      status.boardChunks += 1
      // The worker that counts the last chunk wakes the caller, or the pool's thread if no
      // caller collects. (After a death the pool counts the dead worker's chunks itself.)
      completed = board.isRoundCounted(in: role.control)
      if completed {
        board.signalCompletion()
        // A caller waiting for the round may be queued behind this worker on its CPU.
        if !uncollected { SystemCall.yieldProcessor() }
      }
    }
    return completed && uncollected
  }

  func serve(
    chunkSize: Int, maxTasks: Int?, spin: Duration, status: WorkerStatus, board: BoardRole?,
    kernel: (Input) throws -> Output, wakeParent: () -> Void
  ) throws {
    let received = UnsafeMutableBufferPointer<TaskSlot<Input>>.allocate(capacity: chunkSize)
    defer { received.deallocate() }
    var processed = 0
    var produced = 0
    func send() throws {
      try results.push(contentsOf: UnsafeBufferPointer(rebasing: resultBuffer[0..<produced]))
      produced = 0
      wakeParent()
    }
    // An idle worker spins for the next job, giving its CPU between looks to any thread that
    // wants it: on a machine whose cores the workers fill, the caller that wakes for its
    // results (or publishes the next job) shares a CPU with one of them, and a worker asleep
    // instead would cost the next job a wake-up (30-50 µs on a virtual machine).
    while case let count = try tasks.pop(into: received, spin: spin, yielding: true), count > 0 {
      // A pop may take several chunks. The worker times its tasks (after each in a small
      // batch, whose tasks are long; every 16 in a large one) and publishes the time per
      // task, from which the dispatcher decides how much work to give it ahead. Results also
      // go back whenever ``PoolLimits/longTaskNanoseconds`` (5 ms) has passed, so that the dispatcher can hand
      // the rest of the work to idle workers instead of waiting for the whole batch.
      let checkMask = count <= 16 ? 0 : 15
      var pushed = 0
      var lastCheck = monotonicNanoseconds()
      var lastSent = lastCheck
      for position in 0..<count {
        let index = received[position].index
        if index.job == 0 {
          // A marker: a job waits on the board. Only the worker that completes it may have
          // to wake the pool's thread; the others' batches say nothing.
          if let board, try serveBoard(board, status: status, kernel: kernel, wakeParent: wakeParent) { wakeParent() }
          continue
        }
        pushed += 1
        status.start(index)
        do {
          resultBuffer[produced] = ResultSlot(index: index, output: try kernel(received[position].input))
          produced += 1
        } catch {
          try sendFailure(index, error, wakeParent: wakeParent)
        }
        if position & checkMask == checkMask {
          let now = monotonicNanoseconds()
          status.taskNanoseconds = max(1, (now - lastCheck) / (checkMask + 1))
          lastCheck = now
          if now - lastSent >= PoolLimits.longTaskNanoseconds {
            try send()
            lastSent = now
          }
        }
      }
      processed += count
      status.current = -1
      if pushed > 0 { try send() }
      if let maxTasks, processed >= maxTasks { return }
    }
  }
}
