/// How a team combines its members' values in ``TeamMember/reduce(_:_:)``: a sum, a minimum,
/// a maximum, or a function of your own.
///
/// Values are combined in rank order — `combine(combine(v0, v1), v2)`, … — in every member,
/// so every member gets the same result, bit for bit, even for floating-point sums.
public struct TeamReduction<Value: BitwiseCopyable> {
  let combine: (Value, Value) throws -> Value

  /// A reduction by `combine`, which should be associative (the grouping is fixed, so a
  /// non-commutative one is fine).
  public static func custom(_ combine: @escaping (Value, Value) throws -> Value) -> TeamReduction {
    TeamReduction(combine: combine)
  }
}

extension TeamReduction where Value: AdditiveArithmetic {
  /// The sum of the members' values (wrapping for integers is not implied: an overflow traps).
  public static var sum: TeamReduction { .custom { $0 + $1 } }
}

extension TeamReduction where Value: Comparable {
  /// The least of the members' values.
  public static var min: TeamReduction { .custom { Swift.min($0, $1) } }
  /// The greatest of the members' values.
  public static var max: TeamReduction { .custom { Swift.max($0, $1) } }
}
