"""Work orders (工单): lifecycle, numbering, deadlines, duplicates and history."""
