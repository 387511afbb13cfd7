package resourcemanager

import "strconv"

// NumberOf returns the project number of a project id as a string: the
// number GCP-generated names carry (the emulator derives it from the id).
func NumberOf(projectID string) string {
	return strconv.FormatInt(ProjectNumber(projectID), 10)
}

// IDOf returns the id of a project named by number or id; an unknown
// number is returned as given.
func (s *Server) IDOf(numberOrID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.projects {
		if p.GetName() == "projects/"+numberOrID {
			return id
		}
	}
	return numberOrID
}
