import Foundation
import Multiprocessing
import Scheduler
import SystemCalls

#if canImport(Glibc)
  import Glibc
#endif

/// What a worker needs to start: its channels (with whatever its link shares with the pool),
/// its slot and its limits. A spawned or fork-server worker receives it as its entry point's
/// arguments.
struct WorkerPlan: Codable, Sendable {
  var channels: Data
  var slot: Int
  /// The CPUs to bind to; nil for an unpinned pool.
  var cpus: CPUSet?
  var chunkSize: Int
  var maxTasks: Int?
  /// How long the worker spins waiting for tasks before it sleeps, in nanoseconds.
  var spinNanoseconds: Int
  /// Whether the pool has a task timeout (the worker then records when tasks start).
  var timed: Bool
  /// The pool's claim board, for pools of `BitwiseCopyable` values.
  var board: SharedMemory.Handle?
  /// This worker's id among every worker the pool started: what it writes in the owner words
  /// of the board chunks it claims.
  var incarnation = 0
}

/// The worker's side: bind to the slot, then serve tasks until the channels close.
enum WorkerLoop {
  /// Runs until the channels close or the task quota is used up.
  /// The initializer, if any, runs first; one that throws tells the pool its message through
  /// the link and ends the worker. `label` names the worker in its crash report
  /// (``WorkerPlan/crashLabel``).
  static func run<Input, Output>(
    plan: WorkerPlan, label: String, link: any WorkerLink<Input, Output>,
    initializer: (() throws -> Void)?, claimChunks: PoolKernel<Input, Output>.ClaimChunks?,
    kernel: @escaping (Input) throws -> Output
  ) throws {
    CrashReport.installOneLine(label: label)
    // The pool ends its workers with SIGKILL, and they end with their parent (their death
    // signal is SIGKILL): a Ctrl-C, or a launcher's SIGTERM, sent to the process group is the
    // parent's to answer, and its workers keep their tasks (and its pool whole) meanwhile.
    SystemCall.ignoreSignal(SIGINT)
    SystemCall.ignoreSignal(SIGTERM)
    if let cpus = plan.cpus { try Topology.bindCallingThread(to: cpus) }
    let status = link.status(timed: plan.timed)
    if let initializer {
      do {
        try initializer()
      } catch {
        link.reportStartFailure("\(error)")
        throw error
      }
    }
    try link.reportIn()
    let board = try plan.board.map {
      BoardRole(
        board: try ClaimBoard($0), slot: plan.slot, incarnation: plan.incarnation,
        callerCollects: { link.callerCollects })
    }
    var claimBoard: WorkerRuntime<Input, Output>.BoardClaim?
    if let board, let claimChunks { claimBoard = { try claimChunks(board, status, $0) } }
    let runtime = WorkerRuntime(
      chunkSize: plan.chunkSize, maxTasks: plan.maxTasks, spin: .nanoseconds(plan.spinNanoseconds), status: status,
      claimBoard: claimBoard, kernel: kernel, wakeParent: link.wakeParent)
    try runtime.serve(link)
  }
}

extension WorkerPlan {
  /// The worker's name in its crash report, made where the plan is decoded: in a forked
  /// worker's template, so that the worker runs none of the string interpolation's code.
  var crashLabel: String { "PoolWorker-\(slot)" }

  /// Decodes the fields in order, as ``encode(to:)`` wrote them (an absent optional is a nil).
  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    channels = try fields.decode(Data.self)
    slot = try fields.decode(Int.self)
    cpus = try fields.decodeIfPresent(CPUSet.self)
    chunkSize = try fields.decode(Int.self)
    maxTasks = try fields.decodeIfPresent(Int.self)
    spinNanoseconds = try fields.decode(Int.self)
    timed = try fields.decode(Bool.self)
    board = try fields.decodeIfPresent(SharedMemory.Handle.self)
    incarnation = try fields.decode(Int.self)
  }

  /// Encodes the fields in order, without keys: a worker decodes its plan first thing, and
  /// the generic code of keyed containers was a quarter of a worker's start, most of it page
  /// faults (a forked child maps none of the program's code until it runs it).
  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(channels)
    try fields.encode(slot)
    try fields.encodePresent(cpus)
    try fields.encode(chunkSize)
    try fields.encodePresent(maxTasks)
    try fields.encode(spinNanoseconds)
    try fields.encode(timed)
    try fields.encodePresent(board)
    try fields.encode(incarnation)
  }
}
