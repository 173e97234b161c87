/// The release of swift-multiprocessing this library belongs to: what `mpbench --version`
/// and `mpload --version` print.
public let swiftMultiprocessingVersion = "0.5.0"
