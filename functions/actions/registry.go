package actions

// all is the one list of actions; a new action is one file and one line here.
var all = []Action{
	LabelIncident{},
	StopAgents{},
	DisableSecrets{},
	RevokeKey{},
	StopVM{},
	SnapshotDisk{},
	QuarantineTag{},
	CollectLogs{},
	// The follow-up's looks after containment.
	AgentsAck{},
	VMTerminated{},
	// The undo actions of `coopguard resolve --restore`.
	EnableSecrets{},
	ClearAgentsFlag{},
	RemoveQuarantineTag{},
	ClearIncidentLabel{},
	StartVM{},
	// The sandbox's identity: disabled at containment, enabled by restore.
	DisableIdentity{},
	EnableIdentity{},
}

// Lookup returns the action named name.
func Lookup(name string) (Action, bool) {
	for _, a := range all {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// Names lists every action's name.
func Names() []string {
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = a.Name()
	}
	return out
}
