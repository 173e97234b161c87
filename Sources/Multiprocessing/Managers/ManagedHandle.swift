import Foundation

/// What another process reopens a managed object's proxy from: the manager's address and key,
/// and the object's id on its server. `Proxy` is the proxy's type, so that a handle reopens
/// only a proxy of its own kind.
public struct ManagedHandle<Proxy>: Codable, Sendable, Hashable {
  var manager: Manager.Handle
  var object: Int
}

/// What every proxy holds: its own connection to the manager's server, and its object's id.
struct ProxyCore: Sendable {
  let link: ManagerLink
  let object: Int

  init(link: ManagerLink, object: Int) {
    self.link = link
    self.object = object
  }

  /// Connects to the server of the object `handle` names.
  init<Proxy>(_ handle: ManagedHandle<Proxy>) throws(ManagerError) {
    self.init(link: try ManagerLink(handle.manager), object: handle.object)
  }

  /// The handle of the object, for a proxy of type `Proxy`.
  func handle<Proxy>() -> ManagedHandle<Proxy> { ManagedHandle(manager: link.manager, object: object) }

  /// Runs `method` of the object with encoded `arguments`.
  func call(_ method: String, _ arguments: [Data] = []) throws(ManagerError) -> [Data] {
    try link.call(object, method, arguments)
  }
}
