package audit

// The last of the catalogue's calls: a peering's custom route exchange
// changed (https://cloud.google.com/compute/docs/reference/rest/v1/networks/updatePeering,
// permission compute.networks.updatePeering), and coopguard's functions
// read, redeployed or opened through the Cloud Functions v2 API.
//
// Cloud Functions (https://cloud.google.com/functions/docs/monitoring/audit-logging):
// service cloudfunctions.googleapis.com; GetFunction is ADMIN_READ and
// UpdateFunction and DeleteFunction ADMIN_WRITE, named google.cloud.functions.v2.FunctionService.<Method>;
// the IAM policy methods are listed by their short names (GetIamPolicy
// ADMIN_READ, SetIamPolicy ADMIN_WRITE), as the google.iam.v1.IAMPolicy
// mixin the v2 client calls them through is. Permissions:
// https://cloud.google.com/functions/docs/reference/iam/permissions.
// The emulator's IAMPolicy mixin serves functions only.
const functionsSvc = "cloudfunctions.googleapis.com"

func init() {
	REST["compute.networks.updatePeering"] = rest("compute.networks.updatePeering", AdminWrite)

	fn := func(method string, t LogType, perm string, res ...string) Row {
		return Row{Service: functionsSvc, Method: "google.cloud.functions.v2.FunctionService." + method, Perms: []string{perm}, Type: t, Resource: res}
	}
	GRPC["/google.cloud.functions.v2.FunctionService/GetFunction"] = fn("GetFunction", AdminRead, "cloudfunctions.functions.get", "name")
	GRPC["/google.cloud.functions.v2.FunctionService/UpdateFunction"] = fn("UpdateFunction", AdminWrite, "cloudfunctions.functions.update", "function.name")
	GRPC["/google.cloud.functions.v2.FunctionService/DeleteFunction"] = fn("DeleteFunction", AdminWrite, "cloudfunctions.functions.delete", "name")
	GRPC["/google.iam.v1.IAMPolicy/GetIamPolicy"] = Row{Service: functionsSvc, Method: "GetIamPolicy", Perms: []string{"cloudfunctions.functions.getIamPolicy"}, Type: AdminRead, Resource: []string{"resource"}}
	GRPC["/google.iam.v1.IAMPolicy/SetIamPolicy"] = Row{Service: functionsSvc, Method: "SetIamPolicy", Perms: []string{"cloudfunctions.functions.setIamPolicy"}, Type: AdminWrite, Resource: []string{"resource"}}
}
