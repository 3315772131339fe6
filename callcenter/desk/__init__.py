"""The web: agent desktop with screen-pop, order pages, knowledge base pages, online submissions, API."""
