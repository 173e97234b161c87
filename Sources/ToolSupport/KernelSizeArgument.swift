import ArgumentParser
import Kernels

/// The reference kernel's sizes as a command-line value (`--size test|py|py-long|native|
/// native-long`): ArgumentParser checks the name and lists the sizes in help and errors.
extension MonteCarloPi.Size: ExpressibleByArgument {
  /// The size named `argument`, or nil for a name that is not a size.
  public init?(argument: String) {
    guard let size = Self.all.first(where: { $0.name == argument }) else { return nil }
    self = size
  }

  /// Every size's name, for help and errors.
  public static var allValueStrings: [String] { all.map(\.name) }

  /// The name help shows as a default.
  public var defaultValueDescription: String { name }
}
