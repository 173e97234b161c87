import Foundation
import Multiprocessing
import Testing

@testable import ComputeEngine

/// A task's number: its job and place pack into one word and come back out, across the
/// binary coder as a plain integer.
@Suite struct TaskIDTests {
  @Test func jobAndPlaceRoundTrip() throws {
    let task = TaskID(job: 7, local: TaskID.maxPerJob)
    #expect(task.job == 7 && task.local == TaskID.maxPerJob)
    #expect(task.rawValue == 7 << 32 | 0xFFFF_FFFF)
    #expect(TaskID(job: 3, local: 10).advanced(by: 5) == TaskID(job: 3, local: 15))
    #expect(TaskID(job: 3, local: 10).description == "job 3, task 10")
    let encoded = try BinaryEncoder().encode(TaskID(job: 2, local: 9))
    #expect(encoded == (try BinaryEncoder().encode(2 << 32 | 9)), "a plain Int on the wire")
    #expect(try BinaryDecoder().decode(TaskID.self, from: encoded) == TaskID(job: 2, local: 9))
  }
}
