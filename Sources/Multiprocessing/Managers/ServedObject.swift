import Foundation

/// An object the manager's server holds, whatever its kind: it runs the methods its proxies
/// call, on the values they send encoded (the server knows no element type).
///
/// Calls may come from many connections at once, each on a thread of its own; an object
/// serialises them itself, and a call that waits (a lock's acquire, a queue's get) waits on
/// its connection's thread.
protocol ServedObject: AnyObject, Sendable {
  /// Runs `method` with `arguments` for the connection `caller`.
  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data]

  /// The connection `caller` ended (its process may have died): what it held is let go.
  func callerEnded(_ caller: Int)
}

extension ServedObject {
  func callerEnded(_ caller: Int) {}

  /// The argument at `index`.
  func argument(_ arguments: [Data], _ index: Int) throws(ManagerError) -> Data {
    guard index < arguments.count else { throw .coding("the call lacks argument \(index + 1)") }
    return arguments[index]
  }
}

/// A method name no object of this kind has.
func unknownMethod(_ method: String, of kind: String) -> ManagerError {
  .coding("a \(kind) has no method '\(method)'")
}
