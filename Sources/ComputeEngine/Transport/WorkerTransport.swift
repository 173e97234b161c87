import Foundation
import Multiprocessing

/// How long the dispatcher waits for the rest of a message a worker has begun to write; a
/// worker that dies in the middle of one is handled as dead.
let drainTimeout = Duration.seconds(2)

/// The parent's end of what moves between the parent and one worker: tasks one way; results,
/// failures and the worker's status (``WorkerStatus``) the other. The pool's links
/// (``PoolLinks``) make it; the worker reopens the channels from ``handleData`` as its
/// ``WorkerLink``. Each end is used by one thread (the dispatcher, or the worker).
///
/// ``SlotChannels`` carry `BitwiseCopyable` values through `SlotRing`s; ``MessageChannels``
/// carry `Codable` ones as messages through a ``MessagePipe``: `ByteRing`s in shared memory
/// (``ByteChannels``, what pools use), or operating-system pipes (``PipeChannels``, the second
/// link, over which the pool's behavioural tests run too). Over the rings the status is a
/// line both ends map (``SharedStatus``); over the pipes it comes in the messages
/// (``InBandStatus``). (The pool across machines, `ComputeEngineMPI`, does not come through
/// here: each rank runs a local pool.)
protocol WorkerTransport<Input, Output>: AnyObject, Sendable {
  /// What the tasks carry.
  associatedtype Input
  /// What the results carry.
  associatedtype Output

  /// The encoded handles a spawned worker reopens the channels from.
  var handleData: Data { get }
  /// Whether results (or, for a link whose status comes in its messages, a status report)
  /// may be waiting.
  var hasResults: Bool { get }
  /// What the worker does, as far as the pool knows: read by supervision and the chunk
  /// policy. Over a link whose status comes in messages, as of the last ``drain(succeed:succeedRun:fail:)``.
  var status: WorkerStatus { get }
  /// Why the worker could not start (its initializer's error), if it said; as ``status``.
  var startFailure: String? { get }
  /// A descriptor that polls readable once the worker sent something, for a link whose
  /// workers do not ring the pool's doorbell; nil for one whose workers do.
  var wakeDescriptor: Int32? { get }
  /// Whether a worker can always send its results without waiting for the parent (the
  /// parent never gives it more than its result ring holds), so that the parent need not
  /// look at the channels until the worker says results are there.
  var resultsNeverWait: Bool { get }

  /// Parent: sends `inputs[range]` as tasks `TaskID(job: jobID, local: i)`. Slot rings always have room
  /// (the dispatcher sends no more than fits). A message larger than a byte ring's free room
  /// waits for the worker to read it, only when `mayWait` (the worker has nothing else to
  /// do, so reads at once) and only while `workerGone` is false; otherwise it throws
  /// ``WorkerBusy`` or ``RingError/peerGone``, and nothing usable was sent.
  func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws
  /// Parent: hands every waiting result to `succeed` or `fail`, without blocking, and takes
  /// the status reports that came with them. Consecutive successful tasks may come together
  /// as one ``OutputRun`` through `succeedRun`, so that a chunk's results are recorded at once.
  func drain(succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void)
  /// Parent: no more tasks; the worker exits once it has done those sent.
  func close()
  /// Parent: tells the worker that a job waits on the claim board (a task with job 0).
  func sendBoardMarker()
}
