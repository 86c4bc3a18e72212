"""Credit information (信用信息): 双公示, dishonesty and red lists, credit ratings."""
