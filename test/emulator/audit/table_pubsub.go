package audit

// pubsubSvc is Pub/Sub's service name in audit entries.
const pubsubSvc = "pubsub.googleapis.com"

// ps builds a Pub/Sub row: methodName "google.pubsub.v1.<svc>.<method>"
// and its log type (https://cloud.google.com/pubsub/docs/audit-logging),
// permissions from https://cloud.google.com/pubsub/docs/access-control,
// checked on the resource named by the request field res.
func ps(svc, method string, t LogType, perms []string, res ...string) Row {
	return Row{Service: pubsubSvc, Method: "google.pubsub.v1." + svc + "." + method, Perms: perms, Type: t, Resource: res}
}

// attachOnTopic checks pubsub.topics.attachSubscription on the topic the
// request names, where Pub/Sub checks it
// (https://cloud.google.com/pubsub/docs/access-control: creating a
// subscription needs attachSubscription on the topic).
func attachOnTopic(r Row) Row {
	r.PermOn = map[string]string{"pubsub.topics.attachSubscription": "topic"}
	return r
}

// PubSub is the one table of the Pub/Sub methods coopguard and the drills
// call. deploy's roles are checked against all of it. The emulator
// enforces only the administration rows it serves behind the gate
// (gatedPubSub): Publish and Pull reach pstest on its own, ungated
// address, for coopguard's clients and the emulated Eventarc.
var PubSub = map[string]Row{
	"/google.pubsub.v1.Publisher/CreateTopic":         ps("Publisher", "CreateTopic", AdminWrite, []string{"pubsub.topics.create"}, "name"),
	"/google.pubsub.v1.Publisher/GetTopic":            ps("Publisher", "GetTopic", AdminRead, []string{"pubsub.topics.get"}, "topic"),
	"/google.pubsub.v1.Publisher/ListTopics":          ps("Publisher", "ListTopics", AdminRead, []string{"pubsub.topics.list"}),
	"/google.pubsub.v1.Publisher/UpdateTopic":         ps("Publisher", "UpdateTopic", AdminWrite, []string{"pubsub.topics.update"}, "topic.name"),
	"/google.pubsub.v1.Publisher/DeleteTopic":         ps("Publisher", "DeleteTopic", AdminWrite, []string{"pubsub.topics.delete"}, "topic"),
	"/google.pubsub.v1.Publisher/Publish":             ps("Publisher", "Publish", DataWrite, []string{"pubsub.topics.publish"}),
	"/google.pubsub.v1.Subscriber/GetSubscription":    ps("Subscriber", "GetSubscription", AdminRead, []string{"pubsub.subscriptions.get"}, "subscription"),
	"/google.pubsub.v1.Subscriber/ListSubscriptions":  ps("Subscriber", "ListSubscriptions", AdminRead, []string{"pubsub.subscriptions.list"}),
	"/google.pubsub.v1.Subscriber/CreateSubscription": attachOnTopic(ps("Subscriber", "CreateSubscription", AdminWrite, []string{"pubsub.subscriptions.create", "pubsub.topics.attachSubscription"}, "name")),
	"/google.pubsub.v1.Subscriber/UpdateSubscription": ps("Subscriber", "UpdateSubscription", AdminWrite, []string{"pubsub.subscriptions.update"}, "subscription.name"),
	"/google.pubsub.v1.Subscriber/DeleteSubscription": ps("Subscriber", "DeleteSubscription", AdminWrite, []string{"pubsub.subscriptions.delete"}, "subscription"),
	// A topic's IAM policy (the IAMPolicy mixin on the Publisher's
	// connection; Provision lets a sandbox project's sink write to the
	// logs topic).
	"/google.pubsub.v1.Publisher/GetIamPolicy":   ps("Publisher", "GetIamPolicy", AdminRead, []string{"pubsub.topics.getIamPolicy"}, "resource"),
	"/google.pubsub.v1.Publisher/SetIamPolicy":   ps("Publisher", "SetIamPolicy", AdminWrite, []string{"pubsub.topics.setIamPolicy"}, "resource"),
	"/google.pubsub.v1.Subscriber/StreamingPull": ps("Subscriber", "StreamingPull", DataRead, []string{"pubsub.subscriptions.consume"}),
}

// gatedPubSub are the administration methods the emulator serves behind
// the gate, on the gRPC address every other fake shares: the calls a
// drill makes on coopguard's topics and subscriptions
// (emulator.registerPubSubAdmin serves these and no other).
var gatedPubSub = []string{
	"/google.pubsub.v1.Publisher/CreateTopic",
	"/google.pubsub.v1.Publisher/GetTopic",
	"/google.pubsub.v1.Publisher/UpdateTopic",
	"/google.pubsub.v1.Publisher/DeleteTopic",
	"/google.pubsub.v1.Subscriber/CreateSubscription",
	"/google.pubsub.v1.Subscriber/GetSubscription",
	"/google.pubsub.v1.Subscriber/DeleteSubscription",
	"/google.pubsub.v1.Subscriber/UpdateSubscription",
}

func init() {
	for _, m := range gatedPubSub {
		GRPC[m] = PubSub[m]
	}
}
