import CSystemShims
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Registers the program's entry points and, when this run of the program was started as a
/// child by ``StartMethod/spawn`` or as the fork server, becomes that and never returns.
///
/// Call it first thing in `main`, before anything else runs (as Python re-imports
/// `__main__`), in every program that starts processes with ``StartMethod/spawn`` or
/// ``StartMethod/forkserver``, and pass it every ``EntryPoint`` such processes run. An
/// ordinary run of the program returns at once.
///
/// ```swift
/// let greet = EntryPoint<String>("greet") { who in print("hello,", who) }
///
/// @main struct App {
///   static func main() throws {
///     bootstrapMultiprocessing(entryPoints: [greet])
///     try Process(startMethod: .spawn, entryPoint: greet, arguments: "world").start()
///   }
/// }
/// ```
///
/// `managedTypes` are the ``ManagedObject`` types of your own that a ``Manager`` started with
/// spawn or the fork server makes (its server is such a run of the program).
///
/// Two entry points with one name are a programming error and trap.
public func bootstrapMultiprocessing(
  entryPoints: [any AnyEntryPoint], managedTypes: [any ManagedObject.Type] = []
) {
  for type in managedTypes { Manager.register(type) }
  ProcessRegistry.shared.lock.withLock {
    // The library's own, once whatever the number of calls.
    ProcessRegistry.shared.entryPoints[ManagerServer.entryPoint.name] = ManagerServer.entryPoint
    for entryPoint in entryPoints {
      let existing = ProcessRegistry.shared.entryPoints.updateValue(entryPoint, forKey: entryPoint.name)
      precondition(existing == nil, "two entry points are named '\(entryPoint.name)'")
    }
  }
  guard let role = getenv(Launcher.roleVariable).map({ String(cString: $0) }) else { return }
  unsetenv(Launcher.roleVariable)
  let payloadFD = FileDescriptor(rawValue: 3)
  switch role {
  case "spawn":
    guard let description = try? ChildDescription.read(from: payloadFD) else {
      FileHandle.standardError.write(Data("multiprocessing: cannot read the spawned child's description\n".utf8))
      _exit(70)
    }
    bootstrapChild(description, actualParent: description.parentPid)
  case "forkserver":
    if getenv(Launcher.bindNowVariable) != nil {
      unsetenv(Launcher.bindNowVariable)
      unsetenv("LD_BIND_NOW")
    }
    SystemCall.setThreadName("mp-forkserver")
    ChildRunner.dieWithParent()
    if getppid() == 1 { _exit(0) }
    ForkserverLoop.serve(controlFD: payloadFD)
  default:
    return
  }
}

/// Becomes the child `description` names (spawned, or forked by the fork server).
func bootstrapChild(_ description: ChildDescription, actualParent: pid_t) -> Never {
  bootstrapChild(description, process: childProcess(for: description), actualParent: actualParent)
}

/// The process `description` names, with its entry point; nil when this program registered
/// none of that name.
func childProcess(for description: ChildDescription) -> Process? {
  ProcessRegistry.shared.entryPoint(named: description.entryPoint).map { Process(child: description, entryPoint: $0) }
}

/// Becomes `process`, made from `description` by ``childProcess(for:)``; with none, says
/// that the entry point is not registered and exits with 70.
func bootstrapChild(_ description: ChildDescription, process: Process?, actualParent: pid_t) -> Never {
  guard let process else {
    let message = "multiprocessing: \(ProcessError.entryPointNotRegistered(description.entryPoint)) in this program\n"
    FileHandle.standardError.write(Data(message.utf8))
    _exit(70)
  }
  ChildRunner.become(process, actualParent: actualParent, parent: (description.parentPid, description.parentName))
}
