import Foundation
import Multiprocessing

/// How long the dispatcher waits for the rest of a message a worker has begun to write; a
/// worker that dies in the middle of one is handled as dead.
let drainTimeout = Duration.seconds(2)

/// One task: its number in the pool and its input.
struct TaskSlot<Input: BitwiseCopyable>: BitwiseCopyable {
  var index: TaskID
  var input: Input
}

/// One successful result: the task's number and its output.
struct ResultSlot<Output: BitwiseCopyable>: BitwiseCopyable {
  var index: TaskID
  var output: Output
}

/// Outputs of consecutive tasks, as bitwise copies in a buffer: task `firstIndex + k` has its
/// output's `byteCount` bytes at `outputs + k * stride`.
struct OutputRun {
  var firstIndex: TaskID
  var count: Int
  var outputs: UnsafeRawPointer
  var stride: Int
  var byteCount: Int
}

/// A failed task: its number and the kernel's error message.
struct TaskFailure: Codable, Sendable {
  var index: TaskID
  var message: String
  /// Whether the input or output could not be encoded or decoded (rather than the kernel
  /// throwing).
  var coding = false

  /// What the caller gets for this failure.
  var error: PoolError { coding ? .codingFailed(message) : .kernelFailed(message) }
}

/// Why `value` cannot be encoded, or nil when it can: to find the values at fault once a
/// whole message could not be encoded.
func encodingFailure(of value: some Encodable) -> String? {
  do {
    _ = try BinaryEncoder().encode(value)
    return nil
  } catch {
    return "\(error)"
  }
}

/// A value decoded on its own, so that one that cannot be decoded fails alone: `value`, or
/// why there is none.
struct Lenient<Value: Decodable>: Decodable {
  var value: Value?
  var error: String?

  init(from decoder: any Decoder) throws {
    do { value = try Value(from: decoder) } catch { self.error = "\(error)" }
  }
}

/// A ``TaskBatch`` whose inputs are decoded one by one.
struct LenientTaskBatch<Input: Decodable>: Decodable {
  var first: TaskID
  var inputs: [Lenient<Input>]
}

/// A ``ResultMessage`` whose outputs are decoded one by one.
struct LenientResultMessage<Output: Decodable>: Decodable {
  var indices: [TaskID]
  var outputs: [Lenient<Output>]
  var failures: [TaskFailure]
}

/// A chunk's message would have to wait for a worker that is busy with earlier ones: the
/// dispatcher, which also supervises, must not block on it.
struct WorkerBusy: Error {}

/// The inputs of a chunk that could not be encoded: each failing task's number in its job,
/// with the reason; `error` is what encoding the whole chunk threw.
struct UnsendableInputs: Error {
  var reasons: [Int: String]
  var error: String
}

/// A chunk of tasks for the `Codable` channels: task `first + k` has input `inputs[k]`.
struct TaskBatch<Input: Codable>: Codable {
  var first: TaskID
  var inputs: [Input]
}

/// The results a worker sends at once, for the `Codable` channels: task `indices[k]` gave
/// `outputs[k]`, and the tasks in `failures` failed.
struct ResultMessage<Output: Codable>: Codable {
  var indices: [TaskID] = []
  var outputs: [Output] = []
  var failures: [TaskFailure] = []
}

/// The channels between the parent and one worker: tasks one way, results the other. The
/// parent creates them, the worker reopens them (from ``handleData`` when spawned).
/// Subclasses carry `BitwiseCopyable` values through ``SlotRing``s and `Codable` ones
/// through ``ByteRing``s.
class WorkerChannels<Input, Output>: @unchecked Sendable {
  // @unchecked: each end is used by one thread (the dispatcher, or the worker).

  /// The encoded handles a spawned worker reopens the channels from.
  var handleData: Data { fatalError("abstract") }
  /// Whether results may be waiting.
  var hasResults: Bool { fatalError("abstract") }
  /// Whether a worker can always send its results without waiting for the parent (the
  /// parent never gives it more than its result ring holds), so that the parent need not
  /// look at the channels until the worker says results are there.
  var resultsNeverWait: Bool { fatalError("abstract") }

  /// Parent: sends `inputs[range]` as tasks `TaskID(job: jobID, local: i)`. Slot rings always have room
  /// (the dispatcher sends no more than fits). A message larger than a byte ring's free room
  /// waits for the worker to read it, only when `mayWait` (the worker has nothing else to
  /// do, so reads at once) and only while `workerGone` is false; otherwise it throws
  /// ``WorkerBusy`` or ``RingError/peerGone``, and nothing usable was sent.
  func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws {
    fatalError("abstract")
  }
  /// Parent: hands every waiting result to `succeed` or `fail`, without blocking.
  /// Consecutive successful tasks may come together as one ``OutputRun`` through
  /// `succeedRun`, so that a chunk's results are recorded at once.
  func drain(succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void) {
    fatalError("abstract")
  }
  /// Parent: no more tasks; the worker exits once it has done those sent.
  func close() { fatalError("abstract") }
  /// Parent: tells the worker that a job waits on the claim board (a task with job 0).
  func sendBoardMarker() { fatalError("abstract") }
  /// Worker: runs `kernel` over the tasks as they come, until the channels close or
  /// `maxTasks` tasks are done, marking each task in `status` and calling `afterBatch` after
  /// each batch of results is sent. Waiting for tasks, it spins for `spin` before it sleeps.
  /// A marker sends it to claim chunks from `board`.
  func serve(
    chunkSize: Int, maxTasks: Int?, spin: Duration, status: WorkerStatus, board: BoardRole?,
    kernel: (Input) throws -> Output, afterBatch: () -> Void
  ) throws { fatalError("abstract") }
}

/// Channels of typed slots, for `BitwiseCopyable` inputs and outputs: no serialisation, and
/// whole batches copied as bytes.
final class SlotChannels<Input: BitwiseCopyable, Output: BitwiseCopyable>: WorkerChannels<Input, Output>,
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
    let handles = try JSONDecoder().decode(Handles.self, from: handleData)
    tasks = try SlotRing(handles.tasks)
    results = try SlotRing(handles.results)
    failures = try ByteRing(handles.failures)
  }

  deinit {
    taskBuffer.deallocate()
    resultBuffer.deallocate()
  }

  override var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! JSONEncoder().encode(Handles(tasks: tasks.handle, results: results.handle, failures: failures.handle))
  }

  override var hasResults: Bool { results.count > 0 || failures.hasData }
  override var resultsNeverWait: Bool { true }

  override func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws {
    // Chunks are at most PoolLimits.maxChunk long.
    for (position, local) in range.enumerated() {
      taskBuffer[position] = TaskSlot(index: TaskID(job: jobID, local: local), input: inputs[local])
    }
    try tasks.push(contentsOf: UnsafeBufferPointer(rebasing: taskBuffer[0..<range.count]))
  }

  override func drain(
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

  override func close() {
    tasks.close()
  }

  override func sendBoardMarker() {
    // Only the task's number is read from a marker: its input bytes stay zero.
    let slot = UnsafeMutableRawPointer(taskBuffer.baseAddress!)
    slot.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<TaskSlot<Input>>.stride)
    slot.storeBytes(
      of: TaskID(rawValue: 0), toByteOffset: MemoryLayout<TaskSlot<Input>>.offset(of: \.index)!, as: TaskID.self)
    // The pool uses the board only while no other job is out, so the ring has room; it is
    // closed only once the pool shuts down, when the marker no longer matters.
    _ = try? tasks.tryPush(taskBuffer[0])
  }

  /// Worker: claims chunks of the board's job until none is free, running each chunk's
  /// pending tasks (see ``ClaimBoard`` for the protocol and what a death at each step leaves).
  /// Returns whether this worker counted the round's last chunk, whether no caller was
  /// collecting then (so that the pool's thread must be woken to finish the job), and whether
  /// it claimed any chunk.
  private func serveBoard(
    _ role: BoardRole, status: WorkerStatus, kernel: (Input) throws -> Output
  ) throws -> (completed: Bool, uncollected: Bool, claimed: Bool) {
    let board = role.board
    var completed = false
    var uncollected = false
    var claimed = false
    while let chunk = board.claim(by: role.incarnation) {
      claimed = true
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
          try failures.send(TaskFailure(index: index, message: "\(error)"))
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
      if completed { board.signalCompletion() }
    }
    return (completed, completed && uncollected, claimed)
  }

  override func serve(
    chunkSize: Int, maxTasks: Int?, spin: Duration, status: WorkerStatus, board: BoardRole?,
    kernel: (Input) throws -> Output, afterBatch: () -> Void
  ) throws {
    let received = UnsafeMutableBufferPointer<TaskSlot<Input>>.allocate(capacity: chunkSize)
    defer { received.deallocate() }
    var processed = 0
    var produced = 0
    func send() throws {
      try results.push(contentsOf: UnsafeBufferPointer(rebasing: resultBuffer[0..<produced]))
      produced = 0
      afterBatch()
    }
    // The worker that completes a board round sleeps at once instead of spinning: the caller
    // wakes up for its results now and needs a CPU; on a machine whose cores the workers
    // fill, a spinning worker would hold it. So does one that found the round already
    // claimed (it was woken too late to help). The others spin for the next job.
    var yieldsCPU = false
    while case let count = try tasks.pop(into: received, spin: yieldsCPU ? .zero : spin), count > 0 {
      yieldsCPU = false
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
          if let board {
            let served = try serveBoard(board, status: status, kernel: kernel)
            yieldsCPU = served.completed || !served.claimed
            if served.uncollected { afterBatch() }
          }
          continue
        }
        pushed += 1
        status.start(index)
        do {
          resultBuffer[produced] = ResultSlot(index: index, output: try kernel(received[position].input))
          produced += 1
        } catch {
          try failures.send(TaskFailure(index: index, message: "\(error)"))
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

/// Channels of binary-encoded messages (`BinaryEncoder`), for `Codable` inputs and outputs of
/// any size.
final class ByteChannels<Input: Codable, Output: Codable>: WorkerChannels<Input, Output>, @unchecked Sendable {
  struct Handles: Codable {
    var tasks: ByteRing.Handle
    var results: ByteRing.Handle
  }

  let tasks: ByteRing
  let results: ByteRing

  init(capacity: Int) throws {
    tasks = try ByteRing(capacity: capacity)
    results = try ByteRing(capacity: capacity)
    Self.warmUp()
  }

  /// Runs the encoding paths a worker takes, once, in the parent before any worker is forked.
  ///
  /// A forked child has only the thread that forked; if another thread of the parent held
  /// the Swift runtime's metadata lock at that moment, the child deadlocks the first time it
  /// instantiates generic metadata the parent never did (seen with JSON's keyed containers).
  /// Metadata the parent already made is found without that lock.
  private static func warmUp() {
    let encoder = BinaryEncoder()
    let decoder = BinaryDecoder()
    let tasks = TaskBatch<Input>(first: TaskID(rawValue: 0), inputs: [])
    let results = ResultMessage<Output>(
      indices: [], outputs: [], failures: [TaskFailure(index: TaskID(rawValue: 0), message: "")])
    if let bytes = try? encoder.encode(tasks) {
      _ = try? decoder.decode(TaskBatch<Input>.self, from: bytes)
      _ = try? decoder.decode(LenientTaskBatch<Input>.self, from: bytes)
    }
    if let bytes = try? encoder.encode(results) {
      _ = try? decoder.decode(ResultMessage<Output>.self, from: bytes)
      _ = try? decoder.decode(LenientResultMessage<Output>.self, from: bytes)
    }
  }

  init(handleData: Data) throws {
    let handles = try JSONDecoder().decode(Handles.self, from: handleData)
    tasks = try ByteRing(handles.tasks)
    results = try ByteRing(handles.results)
  }

  override var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! JSONEncoder().encode(Handles(tasks: tasks.handle, results: results.handle))
  }

  override var hasResults: Bool { results.hasData }
  override var resultsNeverWait: Bool { false }

  override func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws {
    let message: Data
    do {
      message = try BinaryEncoder().encode(
        TaskBatch(first: TaskID(job: jobID, local: range.lowerBound), inputs: Array(inputs[range])))
    } catch let error as EncodingError {
      // Nothing was written (a message is encoded before it is sent). Find the inputs at
      // fault, so that only their tasks fail.
      var reasons: [Int: String] = [:]
      for local in range { reasons[local] = encodingFailure(of: inputs[local]) }
      throw UnsendableInputs(reasons: reasons, error: "\(error)")
    }
    guard mayWait || message.count + 8 <= tasks.freeBytes else { throw WorkerBusy() }
    try withoutActuallyEscaping(workerGone) { try tasks.send(message, peerGone: $0) }
  }

  override func drain(
    succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void
  ) {
    while results.hasData, let bytes = try? results.receive(timeout: drainTimeout) {
      // Plain indices: this code runs unspecialised, where iterators and tuples cost a
      // metadata lookup per element.
      let failures: [TaskFailure]
      if let message = try? BinaryDecoder().decode(ResultMessage<Output>.self, from: bytes) {
        for position in 0..<min(message.indices.count, message.outputs.count) {
          succeed(message.indices[position], message.outputs[position])
        }
        failures = message.failures
      } else if let message = try? BinaryDecoder().decode(LenientResultMessage<Output>.self, from: bytes) {
        // Decoded again output by output, so that only the outputs at fault fail.
        for position in 0..<min(message.indices.count, message.outputs.count) {
          if let output = message.outputs[position].value {
            succeed(message.indices[position], output)
          } else {
            let reason = "the output could not be decoded: \(message.outputs[position].error ?? "")"
            fail(message.indices[position], .codingFailed(reason))
          }
        }
        failures = message.failures
      } else {
        continue  // Only damaged bytes get here: both ends are this code.
      }
      for position in 0..<failures.count { fail(failures[position].index, failures[position].error) }
    }
  }

  override func close() {
    tasks.close()
  }

  override func sendBoardMarker() {}

  override func serve(
    chunkSize: Int, maxTasks: Int?, spin: Duration, status: WorkerStatus, board: BoardRole?,
    kernel: (Input) throws -> Output, afterBatch: () -> Void
  ) throws {
    var processed = 0
    var replies = ResultMessage<Output>()
    var lastSent = monotonicNanoseconds()
    func send() throws {
      do {
        try results.send(replies)
      } catch is EncodingError {
        // Nothing was written. The outputs that cannot be encoded become their tasks' failures.
        var kept = ResultMessage<Output>(failures: replies.failures)
        for position in 0..<replies.outputs.count {
          if let reason = encodingFailure(of: replies.outputs[position]) {
            kept.failures.append(TaskFailure(index: replies.indices[position], message: reason, coding: true))
          } else {
            kept.indices.append(replies.indices[position])
            kept.outputs.append(replies.outputs[position])
          }
        }
        try results.send(kept)
      }
      replies = ResultMessage()
      lastSent = monotonicNanoseconds()
      afterBatch()
    }
    func run(_ index: TaskID, _ input: Input) {
      status.start(index)
      do {
        replies.outputs.append(try kernel(input))
        replies.indices.append(index)
      } catch {
        replies.failures.append(TaskFailure(index: index, message: "\(error)"))
      }
    }
    var started = 0
    /// Runs the tasks of one message; returns how many it held, nil at the end.
    func runMessage() throws -> Int? {
      guard let message = try tasks.receive(spin: spin) else { return nil }
      started = monotonicNanoseconds()
      do {
        let batch = try BinaryDecoder().decode(TaskBatch<Input>.self, from: message)
        for offset in 0..<batch.inputs.count { run(batch.first.advanced(by: offset), batch.inputs[offset]) }
        return batch.inputs.count
      } catch is DecodingError {
        // Decoded again input by input, so that only the inputs at fault fail.
        let batch = try BinaryDecoder().decode(LenientTaskBatch<Input>.self, from: message)
        for offset in 0..<batch.inputs.count {
          if let input = batch.inputs[offset].value {
            run(batch.first.advanced(by: offset), input)
          } else {
            let reason = "the input could not be decoded: \(batch.inputs[offset].error ?? "")"
            replies.failures.append(TaskFailure(index: batch.first.advanced(by: offset), message: reason, coding: true))
          }
        }
        return batch.inputs.count
      }
    }
    // A message is one chunk. The worker takes every chunk already there (as a slot ring's
    // pop takes every task), times them for the dispatcher, and answers them in one message,
    // or every ``PoolLimits/longTaskNanoseconds`` when they take longer.
    while var count = try runMessage() {
      var taken = 0
      while true {
        let now = monotonicNanoseconds()
        status.taskNanoseconds = max(1, (now - started) / max(1, count))
        status.current = -1
        taken += count
        processed += count
        if now - lastSent >= PoolLimits.longTaskNanoseconds { try send() }
        if let maxTasks, processed >= maxTasks { break }
        guard taken < chunkSize, tasks.hasData, let next = try runMessage() else { break }
        count = next
      }
      if !replies.indices.isEmpty || !replies.failures.isEmpty { try send() }
      if let maxTasks, processed >= maxTasks { return }
    }
  }
}
