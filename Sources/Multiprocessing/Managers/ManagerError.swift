import SystemPackage

/// Why a ``Manager`` or one of its proxies failed: Python's `KeyError`, `IndexError`,
/// `queue.Empty`… raised in the manager's server and carried back to the caller.
public enum ManagerError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
  /// A dictionary has no such key (Python's `KeyError`), described.
  case keyNotFound(String)
  /// A list index outside the list (Python's `IndexError`).
  case indexOutOfRange(index: Int, count: Int)
  /// A list does not hold the value given to `remove` or `firstIndex` (Python's `ValueError`).
  case valueNotFound
  /// A namespace has no value of that name (Python's `AttributeError`).
  case nameNotFound(String)
  /// A managed queue's `get` waited its timeout (Python's `queue.Empty`).
  case empty
  /// A managed queue's `put` waited its timeout for room (Python's `queue.Full`).
  case full
  /// A managed lock was released while unlocked.
  case releasedUnlocked
  /// The server knows no managed type of this name: register it with
  /// `bootstrapMultiprocessing(entryPoints:managedTypes:)`.
  case unknownType(String)
  /// The object is not on the server (made by another manager?).
  case unknownObject(Int)
  /// A value could not be encoded or decoded: the proxy's types differ from the object's.
  case coding(String)
  /// A custom object's `handle` threw; its description.
  case objectFailed(String)
  /// The server could not be started or reached, or the connection to it failed.
  case server(String)
  /// The manager was shut down.
  case shutDown

  /// The system call's error beneath this one: never (the server's errors arrive described).
  public var underlyingErrno: Errno? { nil }

  /// A message that names the failure.
  public var description: String {
    switch self {
    case .keyNotFound(let key): "the dictionary has no key \(key)"
    case .indexOutOfRange(let index, let count): "index \(index) is outside the list of \(count) items"
    case .valueNotFound: "the list does not hold that value"
    case .nameNotFound(let name): "the namespace has no value named '\(name)'"
    case .empty: "no item came before the timeout"
    case .full: "no room came in the bounded queue before the timeout"
    case .releasedUnlocked: "the lock was released while unlocked"
    case .unknownType(let name):
      "the manager's server knows no type '\(name)': pass it to bootstrapMultiprocessing(managedTypes:) "
        + "(a spawned or fork-server manager) or Manager.register(_:) before the manager starts"
    case .unknownObject(let id): "the manager has no object \(id)"
    case .coding(let reason): "a value could not be encoded or decoded: \(reason)"
    case .objectFailed(let reason): "the managed object failed: \(reason)"
    case .server(let reason): "the manager's server: \(reason)"
    case .shutDown: "the manager was shut down"
    }
  }
}
