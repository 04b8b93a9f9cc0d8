package nfssink

// platformName refuses what Windows cannot store (see windowsNameProblem).
func platformName(name string) error { return windowsNameProblem(name) }
