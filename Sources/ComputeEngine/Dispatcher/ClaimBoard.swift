import Multiprocessing

/// A job's tasks in shared memory, which workers claim a chunk at a time, so that a job needs
/// no thread between the caller and the workers. A job larger than the board goes through
/// it in rounds, a slice of its tasks each.
///
/// The caller writes the inputs, the job's header and then frees its chunks; each worker
/// claims a free chunk by swapping its owner word from ``free`` to the worker's incarnation
/// id, runs the chunk's pending tasks (writing each output in place and then its state),
/// marks the chunk done (``doneMark(_:)``, the negated id) and then counts it on its slot's
/// tally line of the board (``tally(_:)``). Claiming and recording the claim are one atomic step, and every later step
/// leaves a trace the pool reads after a death:
///
/// | a worker dies … | the chunk's owner | what the pool does |
/// |---|---|---|
/// | before a claim | free | nothing: another worker claims it |
/// | after the claim, in a task | its id | fails the task its status line names, frees the chunk for its pending tasks |
/// | between two tasks | its id | frees the chunk for its pending tasks |
/// | after the last task's state | its id | marks the chunk done and counts it |
/// | after marking the chunk done, before counting it | its done mark | counts its done chunks itself |
///
/// A task runs again only when its worker died before its state was written: a task whose
/// state is written is never run again. When a job's caller stops waiting (a cancelled
/// `async` call), the pool takes its free chunks back as a claim would (``withdrawn``) and
/// fails their pending tasks as cancelled; claimed chunks run to their end.
///
/// Layout: a header line, an owner word per chunk, a state byte per task, the inputs, the
/// outputs, then a tally line per worker slot.
final class ClaimBoard: @unchecked Sendable {
  // @unchecked: shared memory, used through atomic words; each task's state and output are
  // written by the one worker that owns its chunk, and read after that worker counted it.

  /// The header's fields (byte offsets).
  enum Header: Int {
    /// The round on the board (0: none yet): what workers count their chunks against.
    case round = 0
    /// The tasks on the board (the round's slice of its job).
    case count = 8
    case chunkSize = 16
    case chunks = 24
    /// Where the next claim should start looking (a hint, not a record).
    case hint = 32
    case capacity = 40
    case inputStride = 48
    case outputStride = 56
    /// A futex word (32 bits) bumped each time a job completes, and the number of callers
    /// asleep on it: a caller waiting for its job sleeps here instead of spinning, leaving
    /// every CPU to the workers.
    case completions = 64
    case sleepers = 72
    /// The job the round's tasks belong to, and where its slice starts in the job.
    case job = 80
    case offset = 88
    /// The worker slots, each with a tally line.
    case slots = 96
  }

  /// Bytes before the owner words.
  private static let headerSize = 128

  /// A task's state: pending, done with its output written, or failed (the failure is sent
  /// on the worker's failure ring first, or recorded by the pool after a death).
  static let pending: UInt8 = 0
  static let succeeded: UInt8 = 1
  static let failed: UInt8 = 2

  /// The owner word of a chunk nobody holds. A chunk beyond the current round holds zero (a
  /// new board's memory: making a board writes nothing) or an older round's done mark: never
  /// this, so nobody claims it.
  static let free = Int.min

  /// The owner word of a free chunk the pool took back because the job's caller stopped
  /// waiting (its tasks fail as cancelled; no worker claims it). Below every done mark.
  static let withdrawn = Int.min + 1

  /// The owner word of a chunk that incarnation `id` (1 or more) finished.
  static func doneMark(_ id: Int) -> Int { -id }

  let memory: SharedMemory
  /// The most tasks a job on this board may have.
  let capacity: Int
  let inputStride: Int
  let outputStride: Int
  private let states: Int
  private let inputs: Int
  private let outputs: Int
  private let tallies: Int
  /// The worker slots, each with a tally line.
  let slots: Int

  /// A board for jobs of up to `capacity` tasks, worked on by the workers of `slots` slots,
  /// with no round on it.
  init(capacity: Int, inputStride: Int, outputStride: Int, slots: Int) throws {
    let layout = Self.layout(capacity: capacity, inputStride: inputStride, outputStride: outputStride, slots: slots)
    memory = try SharedMemory(size: layout.size)
    (self.capacity, self.inputStride, self.outputStride, self.slots) = (capacity, inputStride, outputStride, slots)
    (states, inputs, outputs, tallies) = (layout.states, layout.inputs, layout.outputs, layout.tallies)
    header(.capacity).value = capacity
    header(.inputStride).value = inputStride
    header(.outputStride).value = outputStride
    header(.slots).value = slots
  }

  /// The board a pool made, reopened in a worker.
  init(_ handle: SharedMemory.Handle) throws {
    memory = try SharedMemory(handle)
    capacity = SharedWord(memory.baseAddress + Header.capacity.rawValue).value
    inputStride = SharedWord(memory.baseAddress + Header.inputStride.rawValue).value
    outputStride = SharedWord(memory.baseAddress + Header.outputStride.rawValue).value
    slots = SharedWord(memory.baseAddress + Header.slots.rawValue).value
    let layout = Self.layout(capacity: capacity, inputStride: inputStride, outputStride: outputStride, slots: slots)
    (states, inputs, outputs, tallies) = (layout.states, layout.inputs, layout.outputs, layout.tallies)
  }

  private static func layout(capacity: Int, inputStride: Int, outputStride: Int, slots: Int)
    -> (states: Int, inputs: Int, outputs: Int, tallies: Int, size: Int)
  {
    func aligned(_ offset: Int) -> Int { (offset + 63) & ~63 }
    let states = headerSize + 8 * capacity
    let inputs = aligned(states + capacity)
    let outputs = aligned(inputs + inputStride * capacity)
    let tallies = aligned(outputs + outputStride * capacity)
    return (states, inputs, outputs, tallies, tallies + 64 * slots)
  }

  /// A field of the header.
  func header(_ field: Header) -> SharedWord { SharedWord(memory.baseAddress + field.rawValue) }
  /// Chunk `chunk`'s owner word.
  func owner(_ chunk: Int) -> SharedWord { SharedWord(memory.baseAddress + Self.headerSize + 8 * chunk) }
  /// Task `task`'s state byte.
  func state(_ task: Int) -> UnsafeMutablePointer<UInt8> {
    (memory.baseAddress + states + task).assumingMemoryBound(to: UInt8.self)
  }
  /// Where task `task`'s input lies.
  func input(_ task: Int) -> UnsafeMutableRawPointer { memory.baseAddress + inputs + task * inputStride }
  /// Where task `task`'s output goes.
  func output(_ task: Int) -> UnsafeMutableRawPointer { memory.baseAddress + outputs + task * outputStride }
  /// The tally line of slot `slot`'s worker: the chunks it finished, on a cache line of its own.
  func tally(_ slot: Int) -> BoardTally { BoardTally(memory.baseAddress + tallies + 64 * slot) }

  /// The tasks of chunk `chunk` of a job of `count` tasks in chunks of `chunkSize`.
  static func tasks(of chunk: Int, count: Int, chunkSize: Int) -> Range<Int> {
    chunk * chunkSize..<min(count, (chunk + 1) * chunkSize)
  }

  // MARK: The pool's side

  /// Puts round `round` on the board: tasks `offset ..< offset + count` of job `job`, in
  /// chunks of `chunkSize`; `writeInputs` writes the input of the slice's task `k` at
  /// `input(k)`. The board must be idle: every chunk of the previous round done, so that no
  /// worker holds one.
  func publish(round: Int, job: Int, offset: Int, count: Int, chunkSize: Int, writeInputs: (ClaimBoard) -> Void) {
    precondition(count <= capacity)
    let chunks = (count + chunkSize - 1) / chunkSize
    writeInputs(self)
    state(0).update(repeating: Self.pending, count: count)
    header(.count).value = count
    header(.chunkSize).value = chunkSize
    header(.chunks).value = chunks
    header(.hint).value = 0
    header(.job).value = job
    header(.offset).value = offset
    header(.round).value = round
    // Freed last: a worker that claims a chunk then sees everything above.
    for chunk in 0..<chunks { owner(chunk).value = Self.free }
  }

  /// Whether the workers' tally lines count every chunk of the round on the board, with
  /// `extra` chunks counted for workers that died (their lines were reset).
  func isRoundCounted(plus extra: Int = 0) -> Bool {
    let round = header(.round).value
    var counted = extra
    for slot in 0..<slots { counted += tally(slot).chunks(ofRound: round) }
    return counted >= header(.chunks).value
  }

  /// The completion counter callers sleep on.
  var completions: FutexWord { FutexWord(memory.baseAddress + Header.completions.rawValue) }

  /// Says that a job completed: wakes the callers asleep on ``completions``. Called by the
  /// worker that counts a job's last chunk, and by the pool when it completes or fails a job
  /// itself.
  func signalCompletion() {
    completions.add(1)
    if header(.sleepers).value != 0 { completions.wake() }
  }

  /// Sleeps until ``signalCompletion()`` is called after `seen` was read from
  /// ``completions``, or until `deadline`; `isComplete` is checked once more after the caller
  /// announced itself, so that a completion in between is not missed.
  func waitForCompletion(seen: UInt32, until deadline: ContinuousClock.Instant, isComplete: () -> Bool) {
    _ = header(.sleepers).add(1)
    defer { _ = header(.sleepers).add(-1) }
    guard !isComplete() else { return }
    completions.wait(whileEqualTo: seen, until: deadline)
  }

  // MARK: The worker's side

  /// Claims a free chunk for incarnation `id`: its index, or nil when none is free.
  func claim(by id: Int) -> Int? {
    let chunks = header(.chunks).value
    guard chunks > 0 else { return nil }
    let start = min(max(header(.hint).value, 0), chunks - 1)
    for step in 0..<chunks {
      let chunk = (start + step) % chunks
      guard owner(chunk).value == Self.free else { continue }
      if owner(chunk).compareExchange(expected: Self.free, desired: id) {
        header(.hint).value = chunk + 1
        return chunk
      }
    }
    return nil
  }
}

/// One worker slot's tally on the board: the round its worker last claimed a chunk of, and
/// how many chunks of it the worker finished. The pool adds them up to know when a round is
/// done.
struct BoardTally {
  let base: UnsafeMutableRawPointer

  init(_ base: UnsafeMutableRawPointer) { self.base = base }

  var round: Int {
    get { SharedWord(base).value }
    nonmutating set { SharedWord(base).value = newValue }
  }

  var chunks: Int {
    get { SharedWord(base + 8).value }
    nonmutating set { SharedWord(base + 8).value = newValue }
  }

  /// The chunks of round `round` this worker counted.
  func chunks(ofRound round: Int) -> Int { self.round == round ? chunks : 0 }

  /// Forgets the tally, for a worker that died (its chunks are counted by the pool) or the
  /// next worker of the slot.
  func reset() {
    chunks = 0
    round = 0
  }
}
