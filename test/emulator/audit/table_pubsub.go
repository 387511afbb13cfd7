package audit

// pubsubSvc is Pub/Sub's service name in audit entries.
const pubsubSvc = "pubsub.googleapis.com"

// ps builds a Pub/Sub row: methodName "google.pubsub.v1.<svc>.<method>"
// and its log type (https://cloud.google.com/pubsub/docs/audit-logging),
// permission from https://cloud.google.com/pubsub/docs/access-control.
func ps(svc, method string, t LogType, perm string, res ...string) Row {
	return Row{Service: pubsubSvc, Method: "google.pubsub.v1." + svc + "." + method, Perms: []string{perm}, Type: t, Resource: res}
}

// pubsubRows are the Pub/Sub administration methods the emulator serves
// behind the gate (on the gRPC address every other fake shares): the
// calls a drill makes on coopguard's topics and subscriptions
// (emulator.registerPubSubAdmin serves these and no other). Publish and
// Pull are not among them: coopguard's own clients and the emulated
// Eventarc reach pstest on its own, ungated address.
var pubsubRows = map[string]Row{
	"/google.pubsub.v1.Publisher/CreateTopic":         ps("Publisher", "CreateTopic", AdminWrite, "pubsub.topics.create", "name"),
	"/google.pubsub.v1.Publisher/GetTopic":            ps("Publisher", "GetTopic", AdminRead, "pubsub.topics.get", "topic"),
	"/google.pubsub.v1.Publisher/UpdateTopic":         ps("Publisher", "UpdateTopic", AdminWrite, "pubsub.topics.update", "topic.name"),
	"/google.pubsub.v1.Publisher/DeleteTopic":         ps("Publisher", "DeleteTopic", AdminWrite, "pubsub.topics.delete", "topic"),
	"/google.pubsub.v1.Subscriber/CreateSubscription": ps("Subscriber", "CreateSubscription", AdminWrite, "pubsub.subscriptions.create", "name"),
	"/google.pubsub.v1.Subscriber/GetSubscription":    ps("Subscriber", "GetSubscription", AdminRead, "pubsub.subscriptions.get", "subscription"),
	"/google.pubsub.v1.Subscriber/DeleteSubscription": ps("Subscriber", "DeleteSubscription", AdminWrite, "pubsub.subscriptions.delete", "subscription"),
	"/google.pubsub.v1.Subscriber/UpdateSubscription": ps("Subscriber", "UpdateSubscription", AdminWrite, "pubsub.subscriptions.update", "subscription.name"),
}

func init() {
	for m, r := range pubsubRows {
		GRPC[m] = r
	}
}
