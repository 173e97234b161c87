import Foundation
import Multiprocessing
import Scheduler
import Testing

@testable import LoadGeneration

#if canImport(Glibc)
  import Glibc
#endif

/// The load generator's profiles, durations and workers.
// Serialized: each test holds CPUs at a load, and one test's workers would take CPU from the
// next one's.
@Suite(.serialized, .timeLimit(.minutes(3))) struct LoadGeneratorTests {
  @Test func profilesParseAndFollowTheRun() throws {
    #expect(try LoadProfile(parsing: "constant", load: 0.3) == .constant(0.3))
    #expect(try LoadProfile(parsing: "ramp:10-90", load: 0) == .ramp(from: 0.1, to: 0.9))
    #expect(try LoadProfile(parsing: "sine:20s:20-80", load: 0) == .sine(period: .seconds(20), low: 0.2, high: 0.8))
    #expect(try LoadProfile(parsing: "steps:25,50,100", load: 0) == .steps([0.25, 0.5, 1]))
    let ramp = LoadProfile.ramp(from: 0.1, to: 0.9)
    #expect(abs(ramp.target(at: .seconds(5), of: .seconds(10)) - 0.5) < 1e-12)
    #expect(ramp.target(at: .seconds(20), of: .seconds(10)) == 0.9)
    let sine = LoadProfile.sine(period: .seconds(4), low: 0.2, high: 0.8)
    #expect(abs(sine.target(at: .seconds(1), of: nil) - 0.8) < 1e-12)
    #expect(abs(sine.target(at: .seconds(3), of: nil) - 0.2) < 1e-12)
    let steps = LoadProfile.steps([0.25, 0.5, 1])
    #expect(steps.target(at: .seconds(1), of: .seconds(9)) == 0.25)
    #expect(steps.target(at: .seconds(4), of: .seconds(9)) == 0.5)
    #expect(steps.target(at: .seconds(9), of: .seconds(9)) == 1)
    #expect(ramp.needsDuration && steps.needsDuration && !sine.needsDuration)
  }

  @Test(arguments: ["wave", "ramp:10", "ramp:10-190", "sine:0s:10-20", "sine:5s:80-20", "steps:", "steps:5,x"])
  func badProfilesNameTheirMistake(text: String) {
    #expect(throws: LoadError.self) { try LoadProfile(parsing: text, load: 0.5) }
  }

  @Test func durationsParse() throws {
    #expect(try parseDuration("500ms") == .milliseconds(500))
    #expect(try parseDuration("10s") == .seconds(10))
    #expect(try parseDuration("1.5m") == .seconds(90))
    #expect(try parseDuration("2h") == .seconds(7200))
    #expect(try parseDuration("3") == .seconds(3))
    #expect(try parseDuration("50us") == .microseconds(50))
    #expect(try parseDuration("50µs") == .microseconds(50))
    #expect(try parseDuration("250ns") == .nanoseconds(250))
    #expect(throws: LoadError.invalidDuration("-5s")) { try parseDuration("-5s") }
    #expect(throws: LoadError.invalidDuration("soon")) { try parseDuration("soon") }
    #expect(throws: LoadError.invalidLoad("101")) { try LoadProfile.percent("101") }
  }

  @Test func theGeneratorRefusesWhatItCannotDo() throws {
    #expect(throws: LoadError.noCPUs) { try LoadGenerator(cpus: [], profile: .constant(1)) }
    #expect(throws: LoadError.profileNeedsDuration("ramp:10-90")) {
      try LoadGenerator(cpus: [0], profile: .ramp(from: 0.1, to: 0.9))
    }
    #expect(throws: LoadError.self) { try LoadGenerator(cpus: [0], profile: .constant(1), period: .seconds(2)) }
    #expect(throws: SchedulerError.self) { try LoadGenerator(cpus: [4096], profile: .constant(1)) }
  }

  @Test func workersHoldTheirTargetAndStop() throws {
    let cpu = try Topology.current().allowedCPUs.indices[0]
    let generator = try LoadGenerator(cpus: [cpu], profile: .constant(0.3), method: .triad)
    try generator.start()
    #expect(throws: LoadError.alreadyStarted) { try generator.start() }
    usleep(300_000)
    let first = generator.sample()[0]
    let firstAt = ContinuousClock.now
    usleep(1_000_000)
    let second = generator.sample()[0]
    let wall = ContinuousClock.now - firstAt
    let load = (second.cpuTime - first.cpuTime) / wall
    #expect(abs(load - 0.3) < 0.1, "achieved \(load)")
    #expect(second.target == 0.3)
    #expect(second.operations > first.operations)
    #expect(second.pid > 0)
    let stopping = ContinuousClock.now
    generator.stop()
    #expect(ContinuousClock.now - stopping < .seconds(1))
    #expect(generator.isDone)
    #expect(generator.failedWorkers.isEmpty)
  }

  /// A placement policy gives the workers; each is pinned to its slot's CPUs, which the
  /// kernel reports for its pid.
  @Test func workersFollowAPlacementPolicy() throws {
    let machine = try Topology.current()
    let generator = try LoadGenerator(placement: .physicalCores, profile: .constant(0.1), duration: .seconds(5))
    #expect(generator.placement == (try machine.placement(.physicalCores)))
    #expect(generator.cpus == generator.placement.slots.map { $0.cpus.indices[0] })
    try generator.start()
    defer { generator.stop() }
    var samples = generator.sample()
    for _ in 0..<200 where samples.contains(where: { $0.pid == 0 }) {
      usleep(10_000)
      samples = generator.sample()
    }
    for sample in samples {
      let comm = try String(contentsOfFile: "/proc/\(sample.pid)/comm", encoding: .utf8)
      #expect(comm.hasSuffix(": cpu \(sample.cpu)\n") && comm.utf8.count <= 16, "named for ps: \(comm)")
    }
    for (sample, slot) in zip(samples, generator.placement.slots) {
      let status = try String(contentsOfFile: "/proc/\(sample.pid)/status", encoding: .utf8)
      let allowed = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
      #expect(allowed.map { try? CPUSet(parsing: String($0.split(separator: "\t").last ?? "")) } == slot.cpus)
    }
    #expect(throws: SchedulerError.self) {
      try LoadGenerator(placement: .cpus([4095]), profile: .constant(0.1))
    }
  }

  /// A worker at 100 % is busy to the end of every period: it publishes its work as it goes,
  /// so that a sample in the middle of its first period sees it (it used to show nothing
  /// until the period ended, and a run's last period was never counted).
  @Test func aBusyWorkerPublishesWithinItsPeriod() throws {
    let cpu = try Topology.current().allowedCPUs.indices[0]
    let generator = try LoadGenerator(
      cpus: [cpu], profile: .constant(1), duration: .seconds(1), period: .milliseconds(300))
    try generator.start()
    defer { generator.stop() }
    var sample = generator.sample()[0]
    for _ in 0..<50 where sample.pid == 0 || sample.operations == 0 {
      usleep(5_000)
      sample = generator.sample()[0]
    }
    #expect(generator.elapsed < .milliseconds(290), "still in the first period")
    #expect(sample.operations > 0 && sample.cpuTime > .zero, "\(sample)")
  }

  @Test func aKilledWorkerIsReported() throws {
    let cpu = try Topology.current().allowedCPUs.indices[0]
    let generator = try LoadGenerator(cpus: [cpu], profile: .constant(0.2), duration: .seconds(5))
    try generator.start()
    var pid: Int32 = 0
    for _ in 0..<200 where pid == 0 {
      pid = generator.sample()[0].pid
      usleep(10_000)
    }
    kill(pid, SIGKILL)
    for _ in 0..<200 where !generator.isDone { usleep(10_000) }
    #expect(generator.isDone)
    #expect(generator.failedWorkers.map(\.status) == [.signaled(SIGKILL)])
    generator.stop()
  }
}

/// The workers' names in `ps`: the program's, cut to fit the kernel's 15 bytes, and the CPU.
@Suite struct LoadWorkerNameTests {
  @Test func namesFitTheKernelsFifteenBytes() {
    #expect(LoadWorker.name(cpu: 3, program: "mpload") == "mpload: cpu 3")
    #expect(LoadWorker.name(cpu: 12, program: "a-very-long-program") == "a-very-: cpu 12")
    #expect(LoadWorker.name(cpu: 0, program: "é").utf8.count <= 15)
  }
}
