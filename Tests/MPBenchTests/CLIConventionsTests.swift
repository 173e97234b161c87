import Testing

/// Mistakes a command line makes are named before anything runs.
@Suite(.timeLimit(.minutes(2)))
struct CLIConventionsTests {
  @Test(arguments: [
    ("topolgy", "did you mean 'topology'?"), ("sclaing", "did you mean 'scaling'?"), ("xyzzy", "subcommands: suite"),
  ])
  func aMistypedSubcommandIsNamed(word: String, says: String) throws {
    let run = try runExecutable("mpbench", [word])
    #expect(run.status == 64)
    #expect(run.stderr.contains("unknown subcommand '\(word)'") && run.stderr.contains(says), "\(run.stderr)")
    #expect(run.stdout.isEmpty, "the default suite did not run: \(run.stdout)")
  }

  @Test(arguments: [["scaling"], [], ["suite"]])
  func aPlotPathThatCannotBeWrittenIsRefusedFirst(command: [String]) throws {
    let run = try runExecutable("mpbench", command + ["--plot", "/nonexistent/dir/x.svg"])
    #expect(run.status == 64)
    #expect(run.stderr.contains("the directory /nonexistent/dir does not exist"), "\(run.stderr)")
    #expect(run.stdout.isEmpty, "nothing was measured: \(run.stdout)")
  }

  @Test func knownSubcommandsAndHelpStillParse() throws {
    #expect(try runExecutable("mpbench", ["help"]).stdout.contains("SUBCOMMANDS"))
    #expect(try runExecutable("mpbench", ["topology", "--json"]).status == 0)
  }
}
