/// A task's number in the pool: its job and its place in the job, in one word, so that it
/// travels in a ring's slot and a worker's control line as it is.
struct TaskID: Hashable, BitwiseCopyable, Codable, CustomStringConvertible {
  /// The packed form: the job in the high 32 bits, the place in the low 32.
  let rawValue: Int

  /// The most tasks one job may hold.
  static let maxPerJob = (1 << 32) - 1

  /// Task `local` of job `job` (`local` below 2^32).
  init(job: Int, local: Int) {
    rawValue = job << 32 | local
  }

  init(rawValue: Int) {
    self.rawValue = rawValue
  }

  /// The job the task belongs to.
  var job: Int { rawValue >> 32 }
  /// The task's place in its job.
  var local: Int { rawValue & 0xFFFF_FFFF }

  /// The task `count` places further in the same job.
  func advanced(by count: Int) -> TaskID { TaskID(rawValue: rawValue + count) }

  init(from decoder: any Decoder) throws {
    rawValue = try decoder.singleValueContainer().decode(Int.self)
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }

  /// "job 3, task 17".
  var description: String { "job \(job), task \(local)" }
}
