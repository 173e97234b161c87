import CSystemShims
import Foundation
import Scheduler
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Binding on the real machine, verified from outside the binding call: the kernel's
/// `sched_getaffinity` and `/proc/.../status` of the bound task.
@Suite(.timeLimit(.minutes(3))) struct BindingTests {
  let machine = try! Topology()

  /// The CPUs the calling thread may run on, straight from the kernel.
  func kernelAffinity() -> [Int] {
    var cpus = [Int32](repeating: 0, count: 1024)
    let count = cs_sched_getaffinity(0, &cpus, 1024)
    return cpus.prefix(Int(max(count, 0))).map(Int.init)
  }

  @Test func realMachineIsThisSystem() {
    #expect(machine.isThisSystem)
    #expect(!machine.cores.isEmpty)
    #expect(machine.allowedCPUs.isSubset(of: machine.existingCPUs))
    #expect(machine.processingUnits.map(\.osIndex).sorted() == machine.allowedCPUs.indices)
  }

  @Test func bindingAThreadIsSeenByTheKernel() throws {
    let target = machine.allowedCPUs.indices.last!
    let observed = Mutex<(affinity: [Int], readBack: CPUSet?, running: Int32, proc: [Int])>(([], nil, -1, []))
    let done = DispatchSemaphore(value: 0)
    // A thread of its own, so that the binding does not outlive the test on a shared thread.
    Thread.detachNewThread { [machine] in
      defer { done.signal() }
      guard (try? machine.bind(.thread, to: CPUSet([target]))) != nil else { return }
      let proc = (try? allowedCPUsFromProc("self/task/\(cs_gettid())")) ?? []
      observed.withLock { $0 = (kernelAffinity(), try? machine.binding(.thread), cs_sched_getcpu(), proc) }
    }
    done.wait()
    let result = observed.withLock { $0 }
    #expect(result.affinity == [target])
    #expect(result.readBack == CPUSet([target]))
    #expect(result.running == Int32(target))
    #expect(result.proc == [target])
    #expect(kernelAffinity() != [target] || machine.allowedCPUs.count == 1)
  }

  @Test func bindingAProcessIsSeenFromItsParent() throws {
    let target = machine.allowedCPUs.indices.first!
    var fds: [Int32] = [0, 0]
    #expect(pipe(&fds) == 0)
    fflush(nil)
    let pid = fork()
    if pid == 0 {
      close(fds[0])
      var byte: UInt8 = (try? machine.bind(.process, to: CPUSet([target]))) == nil ? 0 : 1
      _ = write(fds[1], &byte, 1)
      pause()
      _exit(0)
    }
    close(fds[1])
    var byte: UInt8 = 9
    _ = read(fds[0], &byte, 1)
    close(fds[0])
    let seen = try allowedCPUsFromProc("\(pid)")
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    #expect(byte == 1)
    #expect(seen == [target])
  }

  @Test func bindingADisallowedOrUnknownCPUIsRefused() {
    let unknown = (machine.existingCPUs.indices.last ?? 0) + 1
    #expect(throws: SchedulerError.unknownCPU(unknown, existing: machine.existingCPUs)) {
      try machine.bind(.thread, to: CPUSet([unknown]))
    }
    #expect(throws: SchedulerError.emptyCPUList) { try machine.bind(.thread, to: CPUSet([])) }
  }

  @Test func tasksetLimitsTheOfferedCPUs() throws {
    guard machine.allowedCPUs.count >= 2 else { return }
    let only = machine.allowedCPUs.indices.last!
    let (code, output) = try runHelper(["taskset-topology", "fork", "\(only)", "\(machine.allowedCPUs.indices.first!)"])
    #expect(code == 0)
    #expect(output == "\(only) 1 1\n")
  }

  @Test func hwlocEnvironmentOverrideIsDetected() throws {
    let (code, output) = try runHelper(["hwloc-override", "fork"])
    #expect(output == "false 4\n")
    #expect(code == 0)
  }
}
