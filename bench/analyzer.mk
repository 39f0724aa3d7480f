# analyzer benchmark: rules next
