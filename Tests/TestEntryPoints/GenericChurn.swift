import CSystemShims
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Threads that keep the Swift runtime building what it builds lazily and caches under locks:
/// each round instantiates a generic type no earlier round built (nested after the bits of a
/// counter), stores values of it in a dictionary, interpolates them into strings (type
/// names, reflection) and casts them to a protocol (conformance lookups). A process forked
/// meanwhile may inherit one of those locks held: the situation the fork-safety tests create.
public final class GenericChurn: Sendable {
  private let stopped = Atomic<Bool>(false)
  private let running = Atomic<Int>(0)
  /// Rounds done by all threads together.
  public let rounds = Atomic<Int>(0)

  /// Starts `threads` churning threads; each builds types of its own, 65,536 of them, then
  /// uses them again (their names and conformances are then looked up in the caches).
  public init(threads: Int) {
    for thread in 0..<threads {
      running.add(1, ordering: .relaxed)
      let worker = Thread { [self] in
        // The lowest priority: the threads take only CPU time nobody else wants (the suite's
        // timing tests run beside them), and still hold the runtime's locks at any moment.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(cs_gettid()), 19)
        var count = 0
        while !stopped.load(ordering: .relaxed) {
          count += 1
          churn((thread + 1) << 16 | count & 0xFFFF)
          rounds.add(1, ordering: .relaxed)
        }
        running.subtract(1, ordering: .relaxed)
      }
      worker.name = "generic-churn-\(thread)"
      worker.start()
    }
  }

  /// Stops the threads and waits until they have.
  public func stop() {
    stopped.store(true, ordering: .relaxed)
    while running.load(ordering: .relaxed) > 0 { usleep(1000) }
  }

  private func churn(_ number: Int) {
    let value = Self.nest(Int.self, bits: number)
    var table: [AnyHashable: String] = [:]
    table[value] = "\(value)"
    table[AnyHashable(number)] = "\(type(of: value.base)) \(String(reflecting: value.base))"
    if let marked = value.base as? any ChurnMarker { table[AnyHashable(0)] = marked.label }
    _ = (value, table.count, number) as Any
  }

  private static func nest<T>(_ type: T.Type, bits: Int) -> AnyHashable {
    guard bits > 1 else { return AnyHashable(Leaf<T>(id: bits)) }
    return bits & 1 == 0
      ? nest(Left<T>.self, bits: bits >> 1) : nest(Right<T>.self, bits: bits >> 1)
  }
}

private protocol ChurnMarker { var label: String { get } }
private struct Leaf<T>: Hashable, ChurnMarker {
  var id: Int
  var label: String { "\(T.self)" }
}
private struct Left<T>: Hashable {}
private struct Right<T>: Hashable {}
