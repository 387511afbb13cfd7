package config

// What deploy.sh creates besides the jobs, named once: deploy/jobs.sh
// (generated) gives these to the scripts, and the provisioner and the
// emulated deploy use the same values.
const (
	// DeadLetterTopic receives the events Pub/Sub could not deliver to a
	// function after MaxDeliveryAttempts.
	DeadLetterTopic = "coopguard-dead-letter"
	// DeadLetterSubscription holds the dead-letter topic's messages for
	// inspection (and the dead-letter alert policy's metric).
	DeadLetterSubscription = "coopguard-dead-letter-sub"
	// MaxDeliveryAttempts is deploy's default MAX_DELIVERY_ATTEMPTS: the
	// deliveries of one event to a function before it is dead-lettered.
	MaxDeliveryAttempts = 10
	// InvokerAccount is the account id Eventarc delivers the topics'
	// events as (it may only invoke coopguard's functions).
	InvokerAccount = "coopguard-invoker"
)

// TopicKeys are the toml keys of every topic in Topics, in field order.
func TopicKeys() []string {
	t := reflectTopics()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("toml")
	}
	return keys
}
